using System.Text;
using SharpLM.Data;
using Xunit;

namespace SharpLM.Tests.Data;

public class TextCorpusTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static List<TextDocument> Read(string path, TextSplit split) =>
        new CorpusReader([path], new CorpusOptions { TextSplit = split }).ReadDocuments().ToList();

    [Fact]
    public void WholeFileIsOneDocumentWithBomStrippedAndLineEndingsKept()
    {
        string path = dir.Write("doc.txt", [0xEF, 0xBB, 0xBF, .. "Line one\r\nLíne two\n"u8]);
        var document = Assert.Single(Read(path, TextSplit.File));
        Assert.Equal("Line one\r\nLíne two\n", document.Text);
        Assert.Equal(path, document.Source);
    }

    [Fact]
    public void LineSplitGivesNonBlankLinesWithoutTheirEndings()
    {
        string path = dir.Write("lines.md", "first\r\n\r\n  \nsecond line\nlast without newline");
        var documents = Read(path, TextSplit.Line);
        Assert.Equal(["first", "second line", "last without newline"], documents.Select(d => d.Text));
        Assert.Equal([$"{path}:1", $"{path}:4", $"{path}:5"], documents.Select(d => d.Source));
    }

    [Fact]
    public void ParagraphSplitKeepsInnerLineEndings()
    {
        string path = dir.Write("paragraphs.txt", "\nA1\r\nA2\r\n\r\n \t\nB1\nB2\n\n\nC1");
        var documents = Read(path, TextSplit.Paragraph);
        Assert.Equal(["A1\r\nA2", "B1\nB2", "C1"], documents.Select(d => d.Text));
        Assert.Equal([$"{path}:2", $"{path}:6", $"{path}:10"], documents.Select(d => d.Source));
    }

    [Fact]
    public void LinesLongerThanTheReadBufferAreWhole()
    {
        string longLine = new('x', 200_000);
        string path = dir.Write("long.txt", $"{longLine}\nshort\n{longLine}y");
        var documents = Read(path, TextSplit.Line);
        Assert.Equal([longLine, "short", longLine + "y"], documents.Select(d => d.Text));
    }

    [Theory]
    [InlineData(TextSplit.File)]
    [InlineData(TextSplit.Line)]
    [InlineData(TextSplit.Paragraph)]
    public void InvalidUtf8NamesFileLineAndByteOffset(TextSplit split)
    {
        // A lone continuation byte on line 3, after a BOM and a two-byte character (offsets count the BOM).
        byte[] bytes = [0xEF, 0xBB, 0xBF, .. "ok\né\nab"u8, 0x80, .. "c\n"u8];
        int offset = Array.IndexOf(bytes, (byte)0x80);
        string path = dir.Write("bad.txt", bytes);

        var e = Assert.Throws<SharpLMException>(() => Read(path, split));

        Assert.StartsWith($"{path}:3: invalid UTF-8 at byte offset {offset} (byte 0x80)", e.Message);
    }

    [Fact]
    public void Utf16FileGetsAHint()
    {
        string path = dir.Write("utf16.txt", Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("hi")).ToArray());
        var e = Assert.Throws<SharpLMException>(() => Read(path, TextSplit.File));
        Assert.Contains("byte offset 0", e.Message);
        Assert.Contains("UTF-16", e.Message);
    }

    [Fact]
    public void TruncatedMultiByteSequenceAtEndIsInvalid()
    {
        string path = dir.Write("cut.txt", [.. "abc"u8, 0xE2, 0x82]);
        var e = Assert.Throws<SharpLMException>(() => Read(path, TextSplit.Line));
        Assert.StartsWith($"{path}:1: invalid UTF-8 at byte offset 3 (byte 0xE2)", e.Message);
    }
}
