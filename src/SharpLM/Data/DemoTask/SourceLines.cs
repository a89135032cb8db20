namespace SharpLM.Data.DemoTask;

/// <summary>One line of a reference-data file: its 1-based number, the file offset of its first byte
/// (WordNet addresses synsets by byte offset) and its text without the line ending.</summary>
internal readonly record struct SourceLine(long Number, long Offset, string Text);

/// <summary>Reads a reference-data file line by line as strict UTF-8, so a damaged download fails with
/// its file and line instead of turning into replacement characters in the training data.</summary>
internal static class SourceLines
{
    public static IEnumerable<SourceLine> Read(string path)
    {
        if (!File.Exists(path)) throw new SharpLMException($"{path}: no such file");
        using var lines = new Utf8LineReader(CorpusReader.OpenRead(path));
        while (lines.TryReadLine(out var bytes))
        {
            var span = bytes.Span;
            if (span.EndsWith("\n"u8)) span = span[..^1];
            if (span.EndsWith("\r"u8)) span = span[..^1];
            if (!StrictUtf8.TryDecode(span, out string text, out int invalidAt))
                throw new SharpLMException(
                    $"{path}:{lines.LineNumber}: invalid UTF-8 at byte offset {lines.LineOffset + invalidAt} (byte 0x{span[invalidAt]:X2})");
            yield return new SourceLine(lines.LineNumber, lines.LineOffset, text);
        }
    }
}
