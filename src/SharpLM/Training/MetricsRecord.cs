namespace SharpLM.Training;

/// <summary>The fields of each kind of metrics record, named once for metrics.jsonl, metrics.csv and TensorBoard.</summary>
public static class MetricsRecord
{
    public static IReadOnlyList<KeyValuePair<string, object>> Of(StepMetrics m) =>
    [
        new("type", "train"), new("step", m.Step), new("epoch", m.Epoch), new("loss", m.Loss), new("lr", m.LearningRate),
        new("grad_norm", m.GradNorm), new("tokens", m.Tokens), new("target_tokens", m.TargetTokens),
        new("tokens_per_second", Math.Round(m.TokensPerSecond, 1)), new("elapsed_seconds", Math.Round(m.ElapsedSeconds, 3)),
    ];

    public static IReadOnlyList<KeyValuePair<string, object>> Of(EvalMetrics e) =>
    [
        new("type", "valid"), new("step", e.Step), new("loss", e.Loss), new("perplexity", e.Perplexity), new("target_tokens", e.TargetTokens),
    ];

    public static IReadOnlyList<KeyValuePair<string, object>> Of(SampleMetrics s) =>
        [new("type", "sample"), new("step", s.Step), new("prompt", s.Prompt), new("text", s.Text)];
}
