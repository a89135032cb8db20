namespace SharpLM.Generation;

/// <summary>Chooses the next token from one row of logits: runs the processors, then takes the argmax (greedy)
/// or samples from the softmax with its own seeded random numbers.</summary>
public sealed class TokenSampler
{
    readonly IReadOnlyList<ILogitProcessor> processors;
    readonly bool greedy;
    readonly Random random;

    public TokenSampler(SamplingOptions options)
    {
        processors = options.BuildProcessors();
        greedy = options.IsGreedy;
        random = options.Seed is { } seed ? new Random(seed) : new Random();
    }

    public int Next(Span<float> logits, ReadOnlySpan<int> context)
    {
        foreach (var p in processors) p.Process(logits, context);
        return greedy ? ArgMax(logits) : Sample(logits, random.NextDouble());
    }

    /// <summary>Index of the largest logit (the first one on ties, as torch.argmax).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }

    /// <summary>Inverse-CDF sample from softmax(logits) with a uniform number u in [0, 1).</summary>
    public static int Sample(ReadOnlySpan<float> logits, double u)
    {
        var max = float.NegativeInfinity;
        foreach (var l in logits) max = Math.Max(max, l);
        if (float.IsNegativeInfinity(max) || float.IsNaN(max))
            throw new SharpLMException("every token was masked out or the logits are NaN; cannot sample");
        double total = 0;
        foreach (var l in logits) total += Math.Exp(l - max);
        double target = u * total, cumulative = 0;
        int last = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNegativeInfinity(logits[i])) continue;
            cumulative += Math.Exp(logits[i] - max);
            last = i;
            if (cumulative > target) return i;
        }
        return last; // rounding left u * total just above the sum
    }
}
