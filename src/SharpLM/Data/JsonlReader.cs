using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>Reads <c>.jsonl</c>: one JSON object per line, the text in a string field. Blank lines are ignored.</summary>
internal static class JsonlReader
{
    public static IEnumerable<TextDocument> Read(string path, CorpusOptions options, CorpusStats stats)
    {
        using var lines = new Utf8LineReader(CorpusReader.OpenRead(path));
        while (lines.TryReadLine(out var bytes))
        {
            if (bytes.Span.Trim(" \t\r\n"u8).IsEmpty) continue;
            string where = $"{path}:{lines.LineNumber}";
            string? problem;
            string text = "";
            int invalidAt = StrictUtf8.FirstInvalid(bytes.Span);
            if (invalidAt >= 0)
                problem = StrictUtf8.InvalidMessage(
                    path, lines.LineNumber, lines.LineOffset + invalidAt, bytes.Span[invalidAt], lines.StartsWithUtf16Bom);
            else
                problem = TryGetText(bytes, where, options.JsonlField, out text);

            if (problem is not null)
            {
                if (!options.SkipInvalid) throw new SharpLMException(problem);
                stats.AddSkipped(problem);
                continue;
            }
            if (text.Length == 0)
            {
                stats.Empty++;
                continue;
            }
            yield return new TextDocument(text, where);
        }
    }

    /// <summary>Null (and the text) when the line is an object with a string field; otherwise what is wrong.</summary>
    static string? TryGetText(ReadOnlyMemory<byte> line, string where, string field, out string text)
    {
        text = "";
        JsonDocument json;
        try
        {
            json = IO.JsonFile.Parse(line, where);
        }
        catch (SharpLMException e)
        {
            return e.Message;
        }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return $"{where}: expected a JSON object with a string field \"{field}\", got {JsonFile.Describe(root.ValueKind)}";
            if (!root.TryGetProperty(field, out var value))
            {
                var names = root.EnumerateObject().Select(p => $"\"{p.Name}\"").Take(10).ToList();
                return $"{where}: field \"{field}\" is missing " +
                       $"(the object has {(names.Count == 0 ? "no fields" : "fields " + string.Join(", ", names))})";
            }
            if (value.ValueKind != JsonValueKind.String)
                return $"{where}: field \"{field}\" is {JsonFile.Describe(value.ValueKind)}, expected a string";
            text = value.GetString()!;
            return null;
        }
    }
}
