namespace SharpLM.Training;

/// <summary>The loss or the gradients became NaN or infinite. The step was not applied and no checkpoint was
/// written from it; the last good checkpoint stays as it was.</summary>
public sealed class TrainingDivergedException(long step, string what)
    : SharpLMException($"training diverged at step {step + 1}: {what}. Nothing was saved from this step; the last " +
                       "checkpoint is intact. Try a lower learning rate (lr), a longer warm-up (warmup) or gradient clipping (clip 1.0).");
