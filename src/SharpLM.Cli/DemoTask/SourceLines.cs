using System.Buffers;
using System.Text.Unicode;
using SharpLM.IO;

namespace SharpLM.Cli.DemoTask;

/// <summary>One line of a reference-data file: its 1-based number, the file offset of its first byte
/// (WordNet addresses synsets by byte offset) and its text without the line ending.</summary>
readonly record struct SourceLine(long Number, long Offset, string Text);

/// <summary>Reads a reference-data file line by line as strict UTF-8, so a damaged download fails with
/// its file and line instead of turning into replacement characters in the training data.
/// Lines are split at '\n' before decoding ('\n' never occurs inside a multi-byte UTF-8 sequence),
/// which gives each line's byte offset; a leading UTF-8 BOM is dropped.</summary>
static class SourceLines
{
    public static IEnumerable<SourceLine> Read(string path)
    {
        if (!File.Exists(path)) throw new SharpLMException($"{path}: no such file");
        using var stream = InputFile.OpenRead(path, "data");
        var chunk = new byte[64 * 1024];
        var line = new ArrayBufferWriter<byte>();
        long number = 0, offset = 0;
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            for (int start = 0; start < read;)
            {
                int newline = Array.IndexOf(chunk, (byte)'\n', start, read - start);
                int end = newline >= 0 ? newline + 1 : read;
                line.Write(chunk.AsSpan(start, end - start));
                start = end;
                if (newline < 0) break;
                yield return Decode(path, ++number, ref offset, line);
            }
        }
        if (line.WrittenCount > 0) yield return Decode(path, ++number, ref offset, line);
    }

    /// <summary>Decodes the line in <paramref name="line"/> (which starts at file offset <paramref name="offset"/>),
    /// then empties it and moves <paramref name="offset"/> past it.</summary>
    static SourceLine Decode(string path, long number, ref long offset, ArrayBufferWriter<byte> line)
    {
        var bytes = line.WrittenSpan;
        long start = offset;
        offset += bytes.Length;
        if (number == 1 && bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            bytes = bytes[3..];
            start += 3;
        }
        if (bytes.EndsWith("\n"u8)) bytes = bytes[..^1];
        if (bytes.EndsWith("\r"u8)) bytes = bytes[..^1];
        var chars = new char[bytes.Length];
        if (Utf8.ToUtf16(bytes, chars, out int valid, out int written, replaceInvalidSequences: false) != OperationStatus.Done)
            throw new SharpLMException($"{path}:{number}: invalid UTF-8 at byte offset {start + valid} (byte 0x{bytes[valid]:X2})");
        line.ResetWrittenCount();
        return new SourceLine(number, start, new string(chars, 0, written));
    }
}
