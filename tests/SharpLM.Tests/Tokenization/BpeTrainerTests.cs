using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

public class BpeTrainerTests
{
    static ByteLevelBpeTokenizer Train(IEnumerable<string> docs, int vocabSize = 1000, long minFrequency = 2,
        IReadOnlyList<string>? specials = null) =>
        new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = vocabSize,
            MinFrequency = minFrequency,
            SpecialTokens = specials ?? BpeTrainerOptions.DefaultSpecialTokens,
        }).Train(docs);

    [Fact]
    public void LearnsTheTextbookMergesInOrder()
    {
        // aaabdaaabac: aa (4) first; then ab and aa+a tie at 2 and the older pair (a,b) wins;
        // then aa+ab (2). With min frequency 1 the count-1 pairs follow, oldest ids first.
        var tokenizer = Train(["aaabdaaabac"], minFrequency: 1);
        Assert.Equal(
            [("a", "a"), ("a", "b"), ("aa", "ab"), ("a", "c"), ("d", "aaab"), ("aaab", "daaab"), ("aaabdaaab", "ac")],
            tokenizer.Merges);
        Assert.Equal(260, tokenizer.TokenToId("aa"));
        Assert.Equal([tokenizer.TokenToId("aaabdaaabac")!.Value], tokenizer.Encode("aaabdaaabac"));

        Assert.Equal([("a", "a"), ("a", "b"), ("aa", "ab")], Train(["aaabdaaabac"], minFrequency: 2).Merges);
    }

    [Fact]
    public void RespectsMinimumFrequency()
    {
        // Pairs: (x,y) 3 times, (Ġ,x), (Ġ,z) and (z,w) twice each.
        string[] docs = ["xy xy xy zw zw"];
        Assert.Equal([("x", "y")], Train(docs, minFrequency: 3).Merges);
        Assert.Contains(("z", "w"), Train(docs, minFrequency: 2).Merges);
    }

    [Fact]
    public void ReachesTheVocabularySizeExactly()
    {
        var tokenizer = Train(TestCorpus.Documents(), vocabSize: 300);
        Assert.Equal(300, tokenizer.VocabSize);
        Assert.Equal(300, tokenizer.Vocab.Count);
    }

    [Fact]
    public void GivesSpecialTokensTheFirstIdsThenBytesInGpt2Order()
    {
        var tokenizer = TestCorpus.Tokenizer;
        Assert.Equal(["[PAD]", "[BOT]", "[EOT]", "[UNK]"], Enumerable.Range(0, 4).Select(tokenizer.IdToToken));
        Assert.Equal(new SpecialTokenIds(0, 1, 2, 3), tokenizer.Special);
        for (int i = 0; i < 256; i++)
            Assert.Equal(ByteLevelAlphabet.ByteToChar(ByteLevelAlphabet.BytesInOrder[i]).ToString(), tokenizer.IdToToken(4 + i));
    }

    [Fact]
    public void UsesTheGivenSpecialTokensInOrder()
    {
        var tokenizer = Train(["hello"], specials: ["<|endoftext|>", "<pad>"]);
        Assert.Equal(0, tokenizer.TokenToId("<|endoftext|>"));
        Assert.Equal(1, tokenizer.TokenToId("<pad>"));
        Assert.Equal(new SpecialTokenIds(Pad: 1, Bos: 0, Eos: 0, Unk: null), tokenizer.Special);
    }

    [Fact]
    public void NeverMergesIntoASpecialToken()
    {
        var tokenizer = Train(["xy xy xy xy"], specials: ["[PAD]", "xy"]);
        Assert.DoesNotContain(("x", "y"), tokenizer.Merges);
        Assert.Equal([tokenizer.TokenToId("x")!.Value, tokenizer.TokenToId("y")!.Value], tokenizer.Encode("xy"));
        Assert.Equal([1], tokenizer.Encode("xy", allowSpecial: true));
    }

    [Fact]
    public void TrainsWithTheGivenPreTokenizer()
    {
        var digits = new PreTokenizer(PreTokenizer.Gpt2Pattern, individualDigits: true);
        var tokenizer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300, PreTokenizer = digits }).Train(["1234 1234 1234 abab abab"]);
        Assert.Same(digits, tokenizer.PreTokenizer);
        Assert.DoesNotContain(tokenizer.Merges, m => char.IsDigit(m.Left[^1]) && char.IsDigit(m.Right[0]));
        Assert.Contains(("a", "b"), tokenizer.Merges);
    }

    [Fact]
    public void IsDeterministic()
    {
        var first = TokenizerJson.Serialize(Train(TestCorpus.Documents(), vocabSize: 500));
        var second = TokenizerJson.Serialize(Train(TestCorpus.Documents().ToList(), vocabSize: 500));
        Assert.Equal(first, second);
    }

    [Fact]
    public void ReportsProgress()
    {
        var reports = new List<BpeTrainingProgress>();
        var tokenizer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300 }).Train(TestCorpus.Documents(300), reports.Add);
        Assert.Contains(new BpeTrainingProgress(BpeTrainingStage.CountingWords, 300, 300), reports);
        Assert.Contains(new BpeTrainingProgress(BpeTrainingStage.Merging, 1, 40), reports);
        Assert.Equal(new BpeTrainingProgress(BpeTrainingStage.Merging, tokenizer.Merges.Count, tokenizer.Merges.Count), reports[^1]);
    }

    [Fact]
    public void RejectsBadOptions()
    {
        Assert.Throws<SharpLMException>(() => Train(["x"], vocabSize: 259));
        Assert.Throws<SharpLMException>(() => Train(["x"], minFrequency: 0));
        Assert.Throws<SharpLMException>(() => Train(["x"], specials: ["[PAD]", "[PAD]"]));
        Assert.Throws<SharpLMException>(() => Train(["x"], specials: ["a"]));
        Assert.Throws<SharpLMException>(() => Train(["x"], specials: ["[\uD800]"]));
    }
}
