using SharpLM.IO;
namespace SharpLM.Data;

/// <summary>Reads <c>.jsonl</c> records: one JSON value per line, strict UTF-8, blank lines ignored.</summary>
internal static class JsonlRecordReader
{
    public static IEnumerable<RawRecord> Read(string path)
    {
        using var lines = new Utf8LineReader(CorpusReader.OpenRead(path));
        while (lines.TryReadLine(out var bytes))
        {
            if (bytes.Span.Trim(" \t\r\n"u8).IsEmpty) continue;
            string where = $"{path}:{lines.LineNumber}";
            int invalidAt = StrictUtf8.FirstInvalid(bytes.Span);
            if (invalidAt >= 0)
            {
                yield return new RawRecord(where, default, StrictUtf8.InvalidMessage(
                    path, lines.LineNumber, lines.LineOffset + invalidAt, bytes.Span[invalidAt], lines.StartsWithUtf16Bom));
                continue;
            }
            yield return Parse(bytes, where);
        }
    }

    static RawRecord Parse(ReadOnlyMemory<byte> line, string where)
    {
        try
        {
            using var json = IO.JsonFile.Parse(line, where);
            // Cloned: the document's pooled buffer is returned when it is disposed.
            return new RawRecord(where, json.RootElement.Clone(), null);
        }
        catch (SharpLMException e)
        {
            return new RawRecord(where, default, e.Message);
        }
    }
}
