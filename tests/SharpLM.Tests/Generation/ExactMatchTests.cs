using SharpLM.Evaluation;
using SharpLM.Generation;
using Xunit;

namespace SharpLM.Tests.Generation;

public class ExactMatchTests
{
    [Theory]
    [InlineData("  Hello   World. ", "hello world")]
    [InlineData("K AE1 T", "k ae1 t")]
    [InlineData("Fine\tline\n", "fine line")]
    [InlineData("", "")]
    public void NormalisationForgivesFormattingOnly(string input, string expected) =>
        Assert.Equal(expected, ExactMatch.Normalize(input));

    [Fact]
    public void CountsGreedyAnswersThatMatch()
    {
        using var model = TestModels.Tiny(vocab: 260);
        var tok = new TestByteTokenizer();
        var prompt = new[] { 1, 10, 20 };
        // Whatever the model answers greedily is by definition a match for itself; a different string is not.
        var greedy = tok.Decode(
            new TokenGenerator(model).Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = 6 }, new HashSet<int> { 2 }).ToArray(),
            skipSpecial: true);
        var report = ExactMatch.Evaluate(model, tok, [new(prompt, greedy, "a"), new(prompt, greedy + "x", "b")], new HashSet<int> { 2 }, [], 6);
        Assert.Equal(2, report.Total);
        Assert.Equal(1, report.Correct);
        Assert.Equal(0.5, report.Rate);
        Assert.True(report.Samples[0].Match);
        Assert.False(report.Samples[1].Match);
    }
}
