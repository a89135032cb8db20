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

/// <summary>Receives progress from the trainer (the CLI draws it; the metrics log writes it).</summary>
public interface ITrainingObserver
{
    void OnStep(StepMetrics step) { }
    void OnEvaluation(EvalMetrics eval) { }
    void OnCheckpoint(long step, string path) { }
    void OnMessage(string message) { }
}
