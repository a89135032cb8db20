using SharpLM.Generation;
using Xunit;

namespace SharpLM.Tests.Generation;

public class LogitProcessorTests
{
    const float NegInf = float.NegativeInfinity;

    [Fact]
    public void TemperatureDividesEveryLogit()
    {
        float[] logits = [2f, -1f, 0.5f];
        new TemperatureProcessor(0.5f).Process(logits, []);
        Assert.Equal([4f, -2f, 1f], logits);
        Assert.Throws<SharpLMException>(() => new TemperatureProcessor(0f));
    }

    [Fact]
    public void TutorialRepetitionPenaltyCompoundsPerOccurrenceInsideTheWindow()
    {
        // Context: token 1 twice, token 2 once, token 3 once but outside the window of 4.
        float[] logits = [1f, 4f, -2f, 3f, 5f];
        int[] context = [3, 0, 1, 2, 1];
        new RepetitionPenaltyProcessor(2f, range: 4, RepetitionPenaltyMode.PerOccurrence).Process(logits, context);
        // token 0: 1/2; token 1: 4/2/2 = 1; token 2: -2*2 = -4; token 3 untouched (outside window); token 4 untouched.
        Assert.Equal([0.5f, 1f, -4f, 3f, 5f], logits);
    }

    [Fact]
    public void HuggingFaceRepetitionPenaltyCountsEachDistinctTokenOnce()
    {
        float[] logits = [1f, 4f, -2f, 3f, 5f];
        int[] context = [3, 0, 1, 2, 1];
        new RepetitionPenaltyProcessor(2f, range: 0, RepetitionPenaltyMode.Distinct).Process(logits, context);
        Assert.Equal([0.5f, 2f, -4f, 1.5f, 5f], logits);
    }

    [Fact]
    public void PenaltyOfOneChangesNothing()
    {
        float[] logits = [1f, -4f];
        new RepetitionPenaltyProcessor(1f, 10, RepetitionPenaltyMode.PerOccurrence).Process(logits, [0, 1, 1]);
        Assert.Equal([1f, -4f], logits);
    }

    [Fact]
    public void TopKKeepsTheKLargestAndTies()
    {
        float[] logits = [0.1f, 3f, 2f, -1f, 2f, 5f];
        new TopKProcessor(2).Process(logits, []);
        Assert.Equal([NegInf, 3f, NegInf, NegInf, NegInf, 5f], logits);

        float[] tied = [1f, 2f, 2f, 0f];
        new TopKProcessor(2).Process(tied, []);
        Assert.Equal([NegInf, 2f, 2f, NegInf], tied);

        float[] all = [1f, 2f];
        new TopKProcessor(0).Process(all, []);
        Assert.Equal([1f, 2f], all);
    }

    [Fact]
    public void KthLargestMatchesASort()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 50; trial++)
        {
            var values = Enumerable.Range(0, 200).Select(_ => (float)Math.Round(rng.NextDouble() * 20, 0)).ToArray();
            var k = rng.Next(1, 200);
            var sorted = values.OrderByDescending(v => v).ToArray();
            Assert.Equal(sorted[k - 1], TopKProcessor.KthLargest(values, k));
        }
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingP()
    {
        // Probabilities 0.5, 0.3, 0.2 (as logits ln p). p = 0.7 needs the first two; p = 0.5 only the first.
        float[] logits = [MathF.Log(0.2f), MathF.Log(0.5f), MathF.Log(0.3f)];
        var copy = (float[])logits.Clone();
        new TopPProcessor(0.7f).Process(copy, []);
        Assert.Equal([NegInf, logits[1], logits[2]], copy);
        copy = (float[])logits.Clone();
        new TopPProcessor(0.5f).Process(copy, []);
        Assert.Equal([NegInf, logits[1], NegInf], copy);
    }

    [Fact]
    public void MinPMasksTokensFarLessLikelyThanTheBest()
    {
        float[] logits = [MathF.Log(0.6f), MathF.Log(0.3f), MathF.Log(0.1f)];
        new MinPProcessor(0.25f).Process(logits, []); // threshold 0.15
        Assert.True(float.IsNegativeInfinity(logits[2]));
        Assert.False(float.IsNegativeInfinity(logits[1]));
    }

    [Fact]
    public void TutorialOrderAppliesTemperatureBeforeThePenalty()
    {
        // With temperature 2 then penalty 2 on token 0 (logit 4): 4/2 = 2, then 2/2 = 1.
        var options = new SamplingOptions { Temperature = 2f, RepetitionPenalty = 2f, RepetitionPenaltyRange = 10, TopK = 0 };
        float[] logits = [4f, 1f];
        foreach (var p in options.BuildProcessors()) p.Process(logits, [0]);
        Assert.Equal([1f, 0.5f], logits);
        Assert.IsType<TemperatureProcessor>(options.BuildProcessors()[0]);
        Assert.IsType<RepetitionPenaltyProcessor>(options.BuildProcessors()[1]);
        Assert.IsType<TopKProcessor>(options.BuildProcessors()[2]);
    }

    [Fact]
    public void TutorialDefaults()
    {
        var d = new SamplingOptions();
        Assert.Equal((100, 1.0f, 1.0f, 10, 50), (d.MaxNewTokens, d.Temperature, d.RepetitionPenalty, d.RepetitionPenaltyRange, d.TopK));
        Assert.Equal(RepetitionPenaltyMode.PerOccurrence, d.RepetitionPenaltyMode);
    }

    [Fact]
    public void SamplingFollowsTheSoftmaxAndIsReproducibleWithASeed()
    {
        float[] logits = [0f, MathF.Log(3f)]; // probabilities 0.25, 0.75
        Assert.Equal(0, TokenSampler.Sample(logits, 0.2));
        Assert.Equal(1, TokenSampler.Sample(logits, 0.3));
        Assert.Equal(1, TokenSampler.Sample(logits, 0.999));

        var counts = new int[2];
        var sampler = new TokenSampler(new SamplingOptions { Seed = 5, TopK = 0 });
        for (int i = 0; i < 4000; i++) counts[sampler.Next((float[])logits.Clone(), [])]++;
        Assert.InRange(counts[1] / 4000.0, 0.72, 0.78);

        int[] Draw(int seed)
        {
            var s = new TokenSampler(new SamplingOptions { Seed = seed });
            return Enumerable.Range(0, 20).Select(_ => s.Next(new float[] { 0f, 0.1f, 0.2f, 0.3f }, [])).ToArray();
        }
        Assert.Equal(Draw(9), Draw(9));
        Assert.NotEqual(Draw(9), Draw(10));
    }

    [Fact]
    public void GreedyTakesTheArgmaxAfterThePenalty()
    {
        var sampler = new TokenSampler(SamplingOptions.Greedy with { RepetitionPenalty = 4f });
        // Token 1 has the top logit but was just used: 3/4 = 0.75 < 2.
        Assert.Equal(2, sampler.Next(new float[] { 0f, 3f, 2f }, [1]));
    }

    [Fact]
    public void FullyMaskedLogitsGiveAClearError()
    {
        Assert.Throws<SharpLMException>(() => TokenSampler.Sample(new[] { NegInf, NegInf }, 0.5));
    }
}
