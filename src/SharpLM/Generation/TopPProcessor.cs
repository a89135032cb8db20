namespace SharpLM.Generation;

/// <summary>Nucleus sampling: keeps the most likely tokens whose probabilities add up to at least p
/// (always at least one) and masks the rest to -infinity.</summary>
public sealed class TopPProcessor : ILogitProcessor
{
    public TopPProcessor(float p)
    {
        if (!(p > 0 && p <= 1)) throw new SharpLMException($"top-p must be in (0, 1], got {p}");
        P = p;
    }

    public float P { get; }

    public void Process(Span<float> logits, ReadOnlySpan<int> context)
    {
        if (P >= 1f) return;
        var candidates = new List<int>();
        for (int i = 0; i < logits.Length; i++)
            if (!float.IsNegativeInfinity(logits[i])) candidates.Add(i);
        if (candidates.Count == 0) return;
        var values = logits.ToArray();
        candidates.Sort((a, b) => values[b] != values[a] ? values[b].CompareTo(values[a]) : a.CompareTo(b));
        var max = values[candidates[0]];
        double total = 0;
        foreach (var i in candidates) total += Math.Exp(values[i] - max);
        double cumulative = 0;
        int keep = 0;
        while (keep < candidates.Count && cumulative < P)
            cumulative += Math.Exp(values[candidates[keep++]] - max) / total;
        for (int j = keep; j < candidates.Count; j++) logits[candidates[j]] = float.NegativeInfinity;
    }
}
