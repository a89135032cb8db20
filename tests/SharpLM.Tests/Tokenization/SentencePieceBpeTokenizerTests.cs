using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

public class SentencePieceBpeTokenizerTests
{
    // A tiny Llama-style tokenizer: three specials, three byte tokens, "▁abc" reachable by merges.
    static readonly Dictionary<string, int> TinyVocab = new()
    {
        ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2, ["<0x0A>"] = 3, ["<0xC3>"] = 4, ["<0xA9>"] = 5,
        ["▁"] = 6, ["a"] = 7, ["b"] = 8, ["c"] = 9, ["▁a"] = 10, ["ab"] = 11, ["▁ab"] = 12, ["bc"] = 13, ["▁abc"] = 14,
    };

    static readonly (string, string)[] TinyMerges = [("▁", "a"), ("a", "b"), ("▁a", "b"), ("b", "c"), ("▁ab", "c")];

    static readonly AddedToken[] TinySpecials = [new(0, "<unk>"), new(1, "<s>"), new(2, "</s>")];

    internal static SentencePieceBpeTokenizer Tiny(SentencePieceBpeOptions? options = null) =>
        new(TinyVocab, TinyMerges, TinySpecials, options);

    // Expected ids from Hugging Face tokenizers 0.23.2 (npm) on the same vocabulary, merges and pipeline.
    [Theory]
    [InlineData(true, "abc", new[] { 14 }, "abc")]
    [InlineData(true, "ab c", new[] { 12, 6, 9 }, "ab c")]
    [InlineData(true, "a€é€€b", new[] { 10, 4, 5, 0, 8 }, "aé<unk>b")]
    [InlineData(true, "é\n", new[] { 6, 4, 5, 3 }, "é\n")]
    [InlineData(true, "€€ a", new[] { 6, 0, 10 }, "<unk> a")]
    [InlineData(true, "xyz", new[] { 6, 0 }, "<unk>")]
    [InlineData(true, "abéc", new[] { 12, 4, 5, 9 }, "abéc")]
    [InlineData(false, "a€é€€b", new[] { 10, 4, 5, 0, 0, 0, 8 }, "aé<unk><unk><unk>b")]
    [InlineData(false, "€€ a", new[] { 6, 0, 0, 10 }, "<unk><unk> a")]
    [InlineData(false, "xyz", new[] { 6, 0, 0, 0 }, "<unk><unk><unk>")]
    public void ByteFallbackThenUnknownTokenAsHuggingFace(bool fuseUnk, string text, int[] ids, string decoded)
    {
        // "€" has no byte tokens here, so it falls to <unk>; a pending <unk> waits for the next known
        // character, so é's byte tokens come before it.
        var tokenizer = Tiny(new SentencePieceBpeOptions { FuseUnk = fuseUnk });
        Assert.Equal(ids, tokenizer.Encode(text));
        Assert.Equal(decoded, tokenizer.Decode(ids));
    }

    [Fact]
    public void UnknownCharactersAreDroppedWithoutUnknownToken()
    {
        var tokenizer = Tiny(new SentencePieceBpeOptions { UnkToken = null, ByteFallback = false });
        Assert.Equal([10, 9], tokenizer.Encode("a€c"));
        Assert.Equal(new SpecialTokenIds(null, 1, 2, 0), tokenizer.Special);
    }

    [Fact]
    public void SpecialTokensAreMatchedOnlyWhenAllowed()
    {
        var tokenizer = Tiny();
        Assert.Equal([10, 1, 10], tokenizer.Encode("a<s>a", allowSpecial: true));
        Assert.Equal([10, 0, 7], tokenizer.Encode("a<s>a"));
        Assert.Equal("a<s> a", tokenizer.Decode([10, 1, 10]));
        Assert.Equal("a a", tokenizer.Decode([10, 1, 10], skipSpecial: true));
    }

    [Fact]
    public void NonSpecialAddedTokensAreAlwaysMatched()
    {
        var vocab = new Dictionary<string, int>(TinyVocab) { ["<x>"] = 15 };
        var tokenizer = new SentencePieceBpeTokenizer(vocab, TinyMerges, [.. TinySpecials, new AddedToken(15, "<x>", Special: false)]);
        Assert.Equal([14, 15, 10], tokenizer.Encode("abc<x>a"));
        Assert.Equal("abc<x> a", tokenizer.Decode([14, 15, 10], skipSpecial: true));
    }

    [Fact]
    public void LoneSurrogatesFallBackToWtf8BytesAndComeBack()
    {
        var vocab = new Dictionary<string, int>(TinyVocab);
        for (int b = 0; b < 256; b++) vocab.TryAdd($"<0x{b:X2}>", 100 + b);
        var tokenizer = new SentencePieceBpeTokenizer(vocab, TinyMerges, TinySpecials);
        foreach (var text in RoundTripTests.AdversarialStrings)
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        Assert.Equal([6, 100 + 0xED, 100 + 0xA0, 100 + 0x80], tokenizer.Encode("\uD800"));
    }

    [Fact]
    public void MetaspacePreTokenizerSplitsBeforeEachReplacement()
    {
        var words = new List<(int Start, int Length)>();
        string text = new MetaspacePreTokenizer().PreTokenize("Hey  friend!", atStart: false, words);
        Assert.Equal("▁Hey▁▁friend!", text);
        Assert.Equal(["▁Hey", "▁", "▁friend!"], words.Select(w => text.Substring(w.Start, w.Length)));

        words.Clear();
        Assert.Equal("x y",
            new MetaspacePreTokenizer('▁', PrependScheme.First, Split: false).PreTokenize("x y", atStart: false, words).Replace('▁', ' '));
        Assert.Equal([(0, 3)], words);
        words.Clear();
        Assert.Equal("▁x", new MetaspacePreTokenizer('▁', PrependScheme.First).PreTokenize("x", atStart: true, words));
        words.Clear();
        Assert.Equal("▁x", new MetaspacePreTokenizer('▁', PrependScheme.Never).PreTokenize(" x", atStart: true, words));
    }

    [Fact]
    public void DecoderStepsFollowHuggingFace()
    {
        var tokens = new List<string> { "<0xE5>", "<0x8f>", "<0xAB>", "a", "<0xE5>", "<0x8F>", "b", "<0xZZ>", "<0x41>" };
        new ByteFallbackDecoder().Apply(tokens);
        Assert.Equal(["叫", "a", "\uFFFD", "\uFFFD", "b", "<0xZZ>", "A"], tokens);

        tokens = ["  x  ", "  ", ""];
        new StripDecoder(' ', 1, 2).Apply(tokens);
        Assert.Equal([" x", "", ""], tokens);

        tokens = ["▁▁a▁", "▁b"];
        new MetaspaceDecoder().Apply(tokens);
        Assert.Equal(["a", " b"], tokens);
        tokens = ["▁a"];
        new MetaspaceDecoder('▁', PrependScheme.Never).Apply(tokens);
        Assert.Equal([" a"], tokens);
    }

    [Fact]
    public void WithoutDecoderTokensAreJoinedWithSpaces()
    {
        var tokenizer = Tiny(new SentencePieceBpeOptions { Decoder = null });
        Assert.Equal("▁ab c", tokenizer.Decode([12, 9]));
    }

    [Fact]
    public void InconsistentPartsAreRejected()
    {
        Assert.Contains("model.unk_token", Assert.Throws<SharpLMException>(() => Tiny(new SentencePieceBpeOptions { UnkToken = "<nope>" })).Message);
        Assert.Contains("model.merges[0]",
            Assert.Throws<SharpLMException>(() => new SentencePieceBpeTokenizer(TinyVocab, [("a", "z")], TinySpecials)).Message);
        Assert.Contains("model.vocab gives it id 1",
            Assert.Throws<SharpLMException>(() => new SentencePieceBpeTokenizer(TinyVocab, [], [new AddedToken(15, "<s>")])).Message);
        Assert.Contains("is given to both", Assert.Throws<SharpLMException>(() =>
            new SentencePieceBpeTokenizer(new Dictionary<string, int> { ["a"] = 0, ["b"] = 0 }, [], [],
                new SentencePieceBpeOptions { UnkToken = null })).Message);
        Assert.Contains("pattern is empty", Assert.Throws<SharpLMException>(() => new ReplaceNormalizer("", "x")).Message);
    }
}
