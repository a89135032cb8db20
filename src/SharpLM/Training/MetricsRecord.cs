namespace SharpLM.Training;

/// <summary>The fields of each kind of metrics record, named once for metrics.jsonl, metrics.csv and TensorBoard.</summary>
public static class MetricsRecord
{
    /// <summary>A training step, then the objective's metrics (e.g. DPO's rewards/accuracies).</summary>
    public static IReadOnlyList<KeyValuePair<string, object>> Of(StepMetrics m) =>
    [
        new("type", "train"), new("step", m.Step), new("epoch", m.Epoch), new("loss", m.Loss), new("lr", m.LearningRate),
        new("grad_norm", m.GradNorm), new("tokens", m.Tokens), new("target_tokens", m.TargetTokens),
        new("tokens_per_second", Math.Round(m.TokensPerSecond, 1)), new("elapsed_seconds", Math.Round(m.ElapsedSeconds, 3)),
        .. Objective(m.Metrics),
    ];

    /// <summary>A validation: the loss, perplexity when the loss has one, the units it is a mean over (<c>target_tokens</c>
    /// or <c>pairs</c>) and the objective's metrics.</summary>
    public static IReadOnlyList<KeyValuePair<string, object>> Of(EvalMetrics e) =>
    [
        new("type", "valid"), new("step", e.Step), new("loss", e.Loss),
        .. e.Perplexity is { } perplexity ? [new("perplexity", perplexity)] : Array.Empty<KeyValuePair<string, object>>(),
        new(e.Unit.Replace(' ', '_'), e.Units), .. Objective(e.Metrics),
    ];

    static IEnumerable<KeyValuePair<string, object>> Objective(IReadOnlyDictionary<string, double>? metrics) =>
        (metrics ?? new Dictionary<string, double>()).Select(kv => new KeyValuePair<string, object>(kv.Key, kv.Value));

    public static IReadOnlyList<KeyValuePair<string, object>> Of(SampleMetrics s) =>
        [new("type", "sample"), new("step", s.Step), new("prompt", s.Prompt), new("text", s.Text)];
}
