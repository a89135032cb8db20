namespace SharpLM.Training;

/// <summary>What one optimiser step did.</summary>
/// <param name="Metrics">the objective's metrics beside the loss (e.g. DPO's rewards/accuracies), each a mean per unit</param>
public sealed record StepMetrics(
    long Step, long TotalSteps, int Epoch, double Loss, double LearningRate, double GradNorm,
    long Tokens, long TargetTokens, double Seconds, double TokensPerSecond, double ElapsedSeconds,
    IReadOnlyDictionary<string, double>? Metrics = null)
{
    /// <summary>Estimated time left at the recent rate.</summary>
    public TimeSpan Eta => TimeSpan.FromSeconds(Seconds * (TotalSteps - Step));
}

/// <summary>A validation pass.</summary>
/// <param name="Perplexity">exp(loss) when the loss is a per-token cross-entropy; null for other objectives</param>
/// <param name="Units">how many of <paramref name="Unit"/> the loss is a mean over</param>
/// <param name="Unit">target tokens, or pairs (<see cref="Evaluation.ITrainingObjective.Unit"/>)</param>
/// <param name="Metrics">the objective's metrics beside the loss, as in <see cref="StepMetrics.Metrics"/></param>
public sealed record EvalMetrics(long Step, double Loss, double? Perplexity, long Units, string Unit = "target tokens",
    IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>A text the model wrote during training (made outside the trainer, which knows nothing of generation, and
/// passed on by <see cref="Trainer.ReportSample"/>).</summary>
/// <param name="Index">which prompt of the run's prompts (0, 1, ...)</param>
public sealed record SampleMetrics(long Step, int Index, string Prompt, string Text);

/// <summary>Receives progress from the trainer (the CLI draws it; the metrics logs write it).</summary>
public interface ITrainingObserver
{
    void OnStep(StepMetrics step) { }
    void OnEvaluation(EvalMetrics eval) { }
    void OnSample(SampleMetrics sample) { }
    void OnCheckpoint(long step, string path) { }
    void OnMessage(string message) { }
}
