namespace SharpLM.Generation;

/// <summary>How a token that occurs several times in the penalty window is penalised.</summary>
public enum RepetitionPenaltyMode
{
    /// <summary>Once per occurrence, so a token seen n times is penalised n times (the tutorial's generate).</summary>
    PerOccurrence,

    /// <summary>Once per distinct token, however often it occurs (Hugging Face's RepetitionPenaltyLogitsProcessor).</summary>
    Distinct,
}

/// <summary>
/// Makes recently used tokens less likely: a positive logit is divided by the penalty, any other is multiplied by
/// it. Only the last <see cref="Range"/> tokens of the context count (0 = the whole context).
/// </summary>
public sealed class RepetitionPenaltyProcessor : ILogitProcessor
{
    public RepetitionPenaltyProcessor(float penalty, int range, RepetitionPenaltyMode mode)
    {
        if (!(penalty > 0)) throw new SharpLMException($"repetition penalty must be positive, got {penalty}");
        if (range < 0) throw new SharpLMException($"repetition penalty range must be >= 0, got {range}");
        Penalty = penalty;
        Range = range;
        Mode = mode;
    }

    public float Penalty { get; }
    public int Range { get; }
    public RepetitionPenaltyMode Mode { get; }

    public void Process(Span<float> logits, ReadOnlySpan<int> context)
    {
        if (Penalty == 1f) return;
        var window = Range == 0 || Range >= context.Length ? context : context[^Range..];
        HashSet<int>? seen = Mode == RepetitionPenaltyMode.Distinct ? new HashSet<int>() : null;
        foreach (var token in window)
        {
            if ((uint)token >= (uint)logits.Length) continue;
            if (seen is not null && !seen.Add(token)) continue;
            ref var l = ref logits[token];
            l = l > 0 ? l / Penalty : l * Penalty;
        }
    }
}
