using System.Text;
using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>
/// Reads <c>.csv</c> records (RFC 4180): a header row naming the fields, comma-separated values, values in double
/// quotes may hold commas, line breaks and doubled quotes (<c>""</c>). Blank lines between records are ignored.
/// </summary>
/// <remarks>Written here rather than taken from a library so that invalid UTF-8 and broken rows are reported by
/// line and byte offset, and a bad row can be skipped, exactly like the JSONL reader.</remarks>
internal static class CsvRecordReader
{
    public static IEnumerable<RawRecord> Read(string path)
    {
        using var lines = new Utf8LineReader(CorpusReader.OpenRead(path));
        var row = new RowParser();
        string[]? header = null;
        long startLine = 0;
        while (lines.TryReadLine(out var bytes))
        {
            if (!row.InQuotes)
            {
                if (bytes.Span.Trim(" \t\r\n"u8).IsEmpty) continue;
                startLine = lines.LineNumber;
            }
            string where = $"{path}:{startLine}";
            if (!StrictUtf8.TryDecode(bytes.Span, out string line, out int invalidAt))
            {
                row.Reset();
                yield return new RawRecord(where, default, StrictUtf8.InvalidMessage(
                    path, lines.LineNumber, lines.LineOffset + invalidAt, bytes.Span[invalidAt], lines.StartsWithUtf16Bom));
                continue;
            }
            if (!row.Add(line)) continue; // a quoted value goes on over the next line
            var (fields, problem) = row.Take();
            if (header is null)
            {
                if (problem is not null) throw new SharpLMException($"{where}: header row: {problem}");
                header = Header(fields, where);
                continue;
            }
            if (problem is null && fields.Count != header.Length)
                problem = $"the row has {fields.Count} field(s), the header has {header.Length}";
            yield return problem is not null
                ? new RawRecord(where, default, $"{where}: malformed CSV: {problem}")
                : new RawRecord(where, JsonSerializer.SerializeToElement(header.Zip(fields).ToDictionary(p => p.First, p => p.Second)), null);
        }
        if (row.InQuotes)
            yield return new RawRecord($"{path}:{startLine}", default, $"{path}:{startLine}: malformed CSV: a quoted value is never closed");
        if (header is null) throw new SharpLMException($"{path}: no header row (a CSV file must name its fields in the first line)");
    }

    static string[] Header(List<string> fields, string where)
    {
        var names = fields.Select(f => f.Trim()).ToArray();
        var duplicate = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new SharpLMException($"{where}: the header names the field \"{duplicate.Key}\" twice");
        return names;
    }

    /// <summary>Splits one record, which may span lines when a quoted value holds line breaks.</summary>
    sealed class RowParser
    {
        readonly List<string> fields = [];
        readonly StringBuilder field = new();
        bool afterClosingQuote;
        string? problem;

        public bool InQuotes { get; private set; }

        /// <summary>Adds a line (with its line ending); true when the record is complete.</summary>
        public bool Add(string line)
        {
            string ending = line.EndsWith("\r\n", StringComparison.Ordinal) ? "\r\n" : line.EndsWith('\n') ? "\n" : "";
            var text = line.AsSpan(0, line.Length - ending.Length);
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (InQuotes)
                {
                    if (c != '"') field.Append(c);
                    else if (i + 1 < text.Length && text[i + 1] == '"') field.Append(text[++i]);
                    else (InQuotes, afterClosingQuote) = (false, true);
                }
                else if (c == ',')
                {
                    fields.Add(field.ToString());
                    field.Clear();
                    afterClosingQuote = false;
                }
                else if (afterClosingQuote)
                    problem ??= $"unexpected character '{c}' after the closing quote of field {fields.Count + 1}";
                else if (c == '"' && field.Length == 0)
                    InQuotes = true;
                else
                    field.Append(c);
            }
            if (InQuotes) field.Append(ending);
            return !InQuotes;
        }

        public (List<string> Fields, string? Problem) Take()
        {
            fields.Add(field.ToString());
            var result = (fields.ToList(), problem);
            Reset();
            return result;
        }

        public void Reset()
        {
            fields.Clear();
            field.Clear();
            (InQuotes, afterClosingQuote, problem) = (false, false, null);
        }
    }
}
