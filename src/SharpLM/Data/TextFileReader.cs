using System.Text;
using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>Reads <c>.txt</c>/<c>.md</c> files as one document per file, line or paragraph.</summary>
internal static class TextFileReader
{
    public static IEnumerable<TextDocument> Read(string path, TextSplit split) => split switch
    {
        TextSplit.File => [ReadWholeFile(path)],
        TextSplit.Line => ReadLines(path),
        TextSplit.Paragraph => ReadParagraphs(path),
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, null),
    };

    static TextDocument ReadWholeFile(string path)
    {
        using var stream = CorpusReader.OpenRead(path);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        int bom = bytes.AsSpan().StartsWith(StrictUtf8.Bom) ? StrictUtf8.Bom.Length : 0;
        if (bytes.Length == bom) throw CorpusReader.EmptyFile(path);
        var content = bytes.AsSpan(bom);
        if (!StrictUtf8.TryDecode(content, out string text, out int invalidAt))
        {
            int line = content[..invalidAt].Count((byte)'\n') + 1;
            throw new SharpLMException(StrictUtf8.InvalidMessage(
                path, line, bom + invalidAt, content[invalidAt], StrictUtf8.StartsWithUtf16Bom(bytes)));
        }
        return new TextDocument(text, path);
    }

    static IEnumerable<TextDocument> ReadLines(string path)
    {
        foreach (var (text, lineNumber) in DecodedLines(path))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            yield return new TextDocument(WithoutLineEnding(text), $"{path}:{lineNumber}");
        }
    }

    static IEnumerable<TextDocument> ReadParagraphs(string path)
    {
        var paragraph = new StringBuilder();
        long firstLine = 0;
        foreach (var (text, lineNumber) in DecodedLines(path))
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                if (paragraph.Length > 0) yield return Paragraph();
                continue;
            }
            if (paragraph.Length == 0) firstLine = lineNumber;
            paragraph.Append(text);
        }
        if (paragraph.Length > 0) yield return Paragraph();

        TextDocument Paragraph()
        {
            var document = new TextDocument(WithoutLineEnding(paragraph.ToString()), $"{path}:{firstLine}");
            paragraph.Clear();
            return document;
        }
    }

    /// <summary>Lines with their endings, decoded strictly; invalid UTF-8 fails with file, line and offset.</summary>
    static IEnumerable<(string Text, long LineNumber)> DecodedLines(string path)
    {
        using var lines = new Utf8LineReader(CorpusReader.OpenRead(path));
        while (lines.TryReadLine(out var bytes))
        {
            if (!StrictUtf8.TryDecode(bytes.Span, out string text, out int invalidAt))
                throw new SharpLMException(StrictUtf8.InvalidMessage(
                    path, lines.LineNumber, lines.LineOffset + invalidAt, bytes.Span[invalidAt], lines.StartsWithUtf16Bom));
            yield return (text, lines.LineNumber);
        }
    }

    static string WithoutLineEnding(string line) =>
        line.EndsWith("\r\n", StringComparison.Ordinal) ? line[..^2]
        : line.EndsWith('\n') ? line[..^1]
        : line;
}
