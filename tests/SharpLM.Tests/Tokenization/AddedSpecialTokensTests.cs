using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

/// <summary>Adding special tokens to a trained tokenizer (ChatML's markers to one that lacks them): new ids after the
/// last, matched whole, kept through save and load, and the tokenizer otherwise unchanged.</summary>
public sealed class AddedSpecialTokensTests
{
    static readonly string[] Markers = ["<|im_start|>", "<|im_end|>"];
    const string Text = "Hello there, it's 2024: <|im_start|>user\nhi<|im_end|>\n";

    public static TheoryData<string> Kinds => ["byte-level", "sentencepiece"];

    static ITokenizer Original(string kind) => kind == "byte-level" ? TestCorpus.Tokenizer : MistralFixture.Tokenizer;

    [Theory]
    [MemberData(nameof(Kinds))]
    public void TheMarkersTakeTheNextIdsAndAreMatchedWholeOnlyWhenSpecialsAreAllowed(string kind)
    {
        var original = Original(kind);
        var extended = original.WithAddedSpecialTokens(Markers)!;
        int v = original.VocabSize;
        Assert.Equal(v + 2, extended.VocabSize);
        Assert.Equal(v, extended.TokenToId("<|im_start|>"));
        Assert.Equal("<|im_end|>", extended.IdToToken(v + 1));
        Assert.Equal(original.Special, extended.Special);

        var ids = extended.Encode(Text, allowSpecial: true);
        Assert.Equal(1, ids.Count(i => i == v));
        Assert.Equal(1, ids.Count(i => i == v + 1));
        Assert.Equal(original.Encode(Text), extended.Encode(Text)); // untrusted text cannot produce them
        if (kind == "byte-level") Assert.Equal(Text, extended.Decode(ids)); // SentencePiece puts a space after a special token
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void TheyAreSavedAndLoadedWithTheTokenizer(string kind)
    {
        using var dir = new TempDirectory();
        var extended = Original(kind).WithAddedSpecialTokens(Markers)!;
        extended.Save(dir.File("tokenizer.json"));
        var loaded = TokenizerLoader.Load(dir.File("tokenizer.json"));
        Assert.Equal(extended.VocabSize, loaded.VocabSize);
        Assert.Equal(extended.Encode(Text, allowSpecial: true), loaded.Encode(Text, allowSpecial: true));
    }

    [Fact]
    public void ATokenAlreadyThereIsRefused()
    {
        var extended = TestCorpus.Tokenizer.WithAddedSpecialTokens(Markers)!;
        var e = Assert.Throws<SharpLMException>(() => extended.WithAddedSpecialTokens(["<|im_end|>"]));
        Assert.Contains("already has it", e.Message);
    }
}
