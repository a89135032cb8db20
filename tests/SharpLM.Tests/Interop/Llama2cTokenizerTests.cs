using System.Text;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Interop;

public class Llama2cTokenizerTests
{
    // Ids after the 3 specials and 256 byte tokens.
    const int Space = 259, A = 260, B = 261, C = 262, AB = 263, ABC = 264, SpaceA = 265, SpaceAB = 266, EAcute = 267;

    /// <summary>A tokenizer.bin written byte by byte in llama2.c's layout (independent of the writer under test).</summary>
    static byte[] HandWrittenFile()
    {
        var records = new List<(float Score, string Piece)> { (0, "<unk>"), (0, "\n<s>\n"), (0, "\n</s>\n") };
        for (int b = 0; b < 256; b++) records.Add((0, $"<0x{b:X2}>"));
        records.AddRange([(-1, " "), (-2, "a"), (-3, "b"), (-4, "c"), (-5, "ab"), (-6, "abc"), (-10, " a"), (-7, " ab"), (-8, "é")]);
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream);
        w.Write(records.Max(r => Encoding.UTF8.GetByteCount(r.Piece)));
        foreach (var (score, piece) in records)
        {
            var bytes = Encoding.UTF8.GetBytes(piece);
            w.Write(score);
            w.Write(bytes.Length);
            w.Write(bytes);
        }
        w.Flush();
        return stream.ToArray();
    }

    /// <summary>A valid tokenizer of <paramref name="size"/> tokens (specials, bytes, then made-up pieces).</summary>
    internal static Llama2cTokenizer Build(int size)
    {
        var pieces = new List<byte[]> { "<unk>"u8.ToArray(), "\n<s>\n"u8.ToArray(), "\n</s>\n"u8.ToArray() };
        for (int b = 0; b < 256; b++) pieces.Add(Encoding.ASCII.GetBytes($"<0x{b:X2}>"));
        while (pieces.Count < size) pieces.Add(Encoding.ASCII.GetBytes($"p{pieces.Count}"));
        return new Llama2cTokenizer(pieces, pieces.Select((_, i) => -(float)i).ToArray());
    }

    static Llama2cTokenizer Load(TempDirectory dir) => Llama2cTokenizer.Load(dir.Write("tokenizer.bin", HandWrittenFile()));

    [Fact]
    public void MergesTheHighestScoringPairFirst()
    {
        using var dir = new TempDirectory();
        var tokenizer = Load(dir);
        Assert.Equal(268, tokenizer.VocabSize);
        Assert.Equal(new SpecialTokenIds(null, 1, 2, 0), tokenizer.Special);
        // " ",a,b,c," ",a,b: ab (-5) twice, leftmost first; then abc (-6) beats " ab" (-7); " a" (-10) never wins.
        Assert.Equal([Space, ABC, SpaceAB], tokenizer.Encode("abc ab"));
        Assert.Equal([SpaceA, A], tokenizer.Encode("aa")); // the dummy prefix merges too: " a" is the only piece pair
        Assert.Equal([Space, SpaceA, C], tokenizer.Encode(" ac"));
        Assert.Empty(tokenizer.Encode(""));
    }

    [Fact]
    public void FallsBackToByteTokensAndDecodesThem()
    {
        using var dir = new TempDirectory();
        var tokenizer = Load(dir);
        // é has a piece; ü (C3 BC) does not.
        Assert.Equal([Space, EAcute, 3 + 0xC3, 3 + 0xBC, B], tokenizer.Encode("éüb"));
        Assert.Equal(" éüb", tokenizer.Decode(tokenizer.Encode("éüb")));
        // After bos the leading space is dropped, as run.c does.
        Assert.Equal("éüb", tokenizer.Decode([1, .. tokenizer.Encode("éüb")], skipSpecial: true));
        Assert.Equal("\n<s>\néüb", tokenizer.Decode([1, .. tokenizer.Encode("éüb")]));
        Assert.Equal("abc ab", tokenizer.Decode([1, .. tokenizer.Encode("abc ab"), 2], skipSpecial: true));
    }

    [Fact]
    public void SavesTheSameBytesItRead()
    {
        using var dir = new TempDirectory();
        var tokenizer = Load(dir);
        Assert.Equal(AB, tokenizer.TokenToId("ab"));
        Assert.Equal("<0x41>", tokenizer.IdToToken(3 + 0x41));
        tokenizer.Save(dir.File("copy.bin"));
        Assert.Equal(HandWrittenFile(), File.ReadAllBytes(dir.File("copy.bin")));
    }

    [Fact]
    public void ReportsBrokenFiles()
    {
        using var dir = new TempDirectory();
        var file = HandWrittenFile();
        var e = Assert.Throws<SharpLMException>(() => Llama2cTokenizer.Load(dir.Write("cut.bin", file[..^3])));
        Assert.Contains("cut.bin", e.Message);
        Assert.Contains("token 267", e.Message);

        var noBytes = Build(300);
        var pieces = noBytes.Pieces.ToList();
        pieces[3 + 10] = "x"u8.ToArray();
        e = Assert.Throws<SharpLMException>(() => new Llama2cTokenizer(pieces, noBytes.Scores));
        Assert.Contains("<0x0A>", e.Message);
    }
}
