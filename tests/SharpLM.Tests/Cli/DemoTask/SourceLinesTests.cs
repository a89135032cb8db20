using System.Text;
using SharpLM.Cli.DemoTask;
using Xunit;

namespace SharpLM.Tests.Cli.DemoTask;

public class SourceLinesTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void NumbersOffsetsAndTextWithoutEndings()
    {
        // A BOM (dropped; the first line starts after it), CRLF and LF endings, an empty line, a multi-byte
        // character, and a last line without an ending.
        string path = dir.Write("data.txt", [0xEF, 0xBB, 0xBF, .. "ab\r\n\ncafé\nend"u8]);
        Assert.Equal(
            [new SourceLine(1, 3, "ab"), new SourceLine(2, 7, ""), new SourceLine(3, 8, "café"), new SourceLine(4, 14, "end")],
            SourceLines.Read(path).ToList());
    }

    [Fact]
    public void LinesLongerThanTheReadBufferAndAcrossItsEdge()
    {
        // Offsets and text must not depend on where the 64 KiB reads end.
        string[] texts = [new('a', 65_530), "bcdefghij", new('é', 70_000), "z"];
        string path = dir.Write("data.txt", string.Join("\n", texts) + "\n");
        var lines = SourceLines.Read(path).ToList();

        Assert.Equal(texts, lines.Select(l => l.Text));
        Assert.Equal([1L, 2, 3, 4], lines.Select(l => l.Number));
        long offset = 0;
        foreach (var (line, text) in lines.Zip(texts))
        {
            Assert.Equal(offset, line.Offset);
            offset += Encoding.UTF8.GetByteCount(text) + 1;
        }
    }

    [Fact]
    public void InvalidUtf8NamesLineAndFileOffset()
    {
        string path = dir.Write("data.txt", [.. "x\n"u8, .. Encoding.UTF8.GetBytes(new string('a', 70_000)), 0xC3, 0x28, .. "\n"u8]);
        var e = Assert.Throws<SharpLMException>(() => SourceLines.Read(path).ToList());
        Assert.Equal($"{path}:2: invalid UTF-8 at byte offset 70002 (byte 0xC3)", e.Message);
    }
}
