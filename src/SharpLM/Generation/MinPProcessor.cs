namespace SharpLM.Generation;

/// <summary>Min-p sampling: masks tokens whose probability is below min_p times the most likely token's.</summary>
public sealed class MinPProcessor : ILogitProcessor
{
    public MinPProcessor(float minP)
    {
        if (!(minP >= 0 && minP <= 1)) throw new SharpLMException($"min-p must be in [0, 1], got {minP}");
        MinP = minP;
    }

    public float MinP { get; }

    public void Process(Span<float> logits, ReadOnlySpan<int> context)
    {
        if (MinP == 0f) return;
        var max = float.NegativeInfinity;
        foreach (var l in logits) max = Math.Max(max, l);
        // p_i / p_max = exp(l_i - l_max), so compare in log space.
        var threshold = max + MathF.Log(MinP);
        foreach (ref var l in logits)
            if (l < threshold) l = float.NegativeInfinity;
    }
}
