using SharpLM.Tokenization;

namespace SharpLM.Data;

/// <summary>Tokenizes a stream of documents on every core, keeping document order.</summary>
public static class CorpusTokenizer
{
    const int ChunkDocuments = 64;

    /// <param name="progress">called after each chunk with (documents, UTF-8 bytes) done so far</param>
    public static List<int[]> Tokenize(IEnumerable<TextDocument> documents, ITokenizer tokenizer, Action<long, long>? progress = null)
    {
        var result = new List<int[]>();
        long bytes = 0;
        foreach (var chunk in documents.Chunk(ChunkDocuments))
        {
            var ids = new int[chunk.Length][];
            Parallel.For(0, chunk.Length, i => ids[i] = tokenizer.Encode(chunk[i].Text));
            result.AddRange(ids);
            bytes += chunk.Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d.Text));
            progress?.Invoke(result.Count, bytes);
        }
        return result;
    }
}
