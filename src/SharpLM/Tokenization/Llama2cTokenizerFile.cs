using System.Buffers.Binary;
using SharpLM.IO;

namespace SharpLM.Tokenization;

/// <summary>
/// llama2.c's <c>tokenizer.bin</c>: little-endian int32 max_token_length, then for each id in order a float32
/// score, an int32 byte length and the piece's bytes. The file does not store the vocabulary size (run.c takes it
/// from the checkpoint), so it is read to the end.
/// </summary>
public static class Llama2cTokenizerFile
{
    /// <summary>The name llama2.c gives the file, used for it inside a SharpLM model folder too.</summary>
    public const string DefaultFileName = "tokenizer.bin";

    /// <exception cref="SharpLMException">The file is missing, truncated or inconsistent.</exception>
    public static Llama2cTokenizer Load(string path)
    {
        var data = IO.InputFile.ReadAllBytes(path, "llama2.c tokenizer", TokenizerJson.MaxFileBytes);
        if (data.Length < 4) throw new SharpLMException($"{path}: {data.Length} bytes is too short for a llama2.c tokenizer.bin");
        int maxLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxLength <= 0 || maxLength > 1 << 16)
            throw new SharpLMException($"{path}: max_token_length = {maxLength} is not plausible; is this a llama2.c tokenizer.bin?");
        var pieces = new List<byte[]>();
        var scores = new List<float>();
        int offset = 4;
        while (offset < data.Length)
        {
            int id = pieces.Count;
            if (data.Length - offset < 8)
                throw new SharpLMException($"{path}: the file ends inside the record of token {id} (offset {offset})");
            float score = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(offset));
            int length = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset + 4));
            offset += 8;
            if (length < 0 || length > maxLength)
                throw new SharpLMException($"{path}: token {id} has length {length}, outside 0..max_token_length ({maxLength})");
            if (data.Length - offset < length)
                throw new SharpLMException($"{path}: the file ends inside the bytes of token {id} (offset {offset}, length {length})");
            pieces.Add(data.AsSpan(offset, length).ToArray());
            scores.Add(score);
            offset += length;
        }
        try
        {
            return new Llama2cTokenizer(pieces, scores);
        }
        catch (SharpLMException e)
        {
            throw new SharpLMException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Writes the tokenizer in llama2.c's format, atomically.</summary>
    public static void Save(Llama2cTokenizer tokenizer, string path) =>
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            writer.Write(tokenizer.MaxPieceBytes);
            for (int id = 0; id < tokenizer.VocabSize; id++)
            {
                writer.Write(tokenizer.Scores[id]);
                writer.Write(tokenizer.Pieces[id].Length);
                writer.Write(tokenizer.Pieces[id]);
            }
        });
}
