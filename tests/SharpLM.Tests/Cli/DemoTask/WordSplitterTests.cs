using SharpLM.Cli.DemoTask;
using Xunit;

namespace SharpLM.Tests.Cli.DemoTask;

public class WordSplitterTests
{
    [Fact]
    public void HashIsTheSha256PrefixOfTheLowerCasedWord()
    {
        // python3 -c "import hashlib; print(hashlib.sha256(b'cat').hexdigest()[:16])"
        Assert.Equal(0x77af778b51abd4a3UL, WordSplitter.Hash("cat"));
        Assert.Equal(WordSplitter.Hash("cat"), WordSplitter.Hash("CAT"));
    }

    [Theory]
    // Positions in the hash range: born 0.032, fast 0.068, hat 0.097, cat 0.468.
    [InlineData("born", DemoTaskSplit.Test)]
    [InlineData("fast", DemoTaskSplit.Valid)]
    [InlineData("hat", DemoTaskSplit.Valid)]
    [InlineData("cat", DemoTaskSplit.Train)]
    public void SplitsArePinned(string word, DemoTaskSplit expected) =>
        Assert.Equal(expected, WordSplitter.SplitOf(word, validPercent: 5, testPercent: 5));

    [Fact]
    public void SharesFollowThePercentages()
    {
        var words = Enumerable.Range(0, 20_000).Select(i => $"w{i}").ToList();
        var counts = words.GroupBy(w => WordSplitter.SplitOf(w, validPercent: 10, testPercent: 5)).ToDictionary(g => g.Key, g => g.Count());
        Assert.InRange(counts[DemoTaskSplit.Test], 850, 1150);
        Assert.InRange(counts[DemoTaskSplit.Valid], 1800, 2200);
        Assert.All(words, w => Assert.Equal(DemoTaskSplit.Train, WordSplitter.SplitOf(w, 0, 0)));
    }

    [Fact]
    public void GrowingAHeldOutShareOnlyMovesWordsOutOfTraining()
    {
        foreach (var word in Enumerable.Range(0, 2_000).Select(i => $"w{i}"))
        {
            var small = WordSplitter.SplitOf(word, validPercent: 5, testPercent: 5);
            var larger = WordSplitter.SplitOf(word, validPercent: 5, testPercent: 10);
            if (small == DemoTaskSplit.Test) Assert.Equal(DemoTaskSplit.Test, larger);
            if (larger == DemoTaskSplit.Train) Assert.Equal(DemoTaskSplit.Train, small);
        }
    }
}
