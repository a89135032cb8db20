namespace SharpLM.Training;

/// <summary>What one optimiser step did.</summary>
public sealed record StepMetrics(
    long Step, long TotalSteps, int Epoch, double Loss, double LearningRate, double GradNorm,
    long Tokens, long TargetTokens, double Seconds, double TokensPerSecond, double ElapsedSeconds)
{
    /// <summary>Estimated time left at the recent rate.</summary>
    public TimeSpan Eta => TimeSpan.FromSeconds(Seconds * (TotalSteps - Step));
}

/// <summary>A validation pass.</summary>
public sealed record EvalMetrics(long Step, double Loss, double Perplexity, long TargetTokens);

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
