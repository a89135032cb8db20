using SharpLM.Data;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Evaluation;

/// <summary>Next-token cross-entropy over the batch's targets (pretraining and supervised fine-tuning), averaged per
/// target token of the step.</summary>
public sealed class LanguageModelObjective : ITrainingObjective
{
    public static LanguageModelObjective Instance { get; } = new();

    LanguageModelObjective() { }

    public string Unit => "target tokens";
    public IReadOnlyList<string> MetricNames => [];
    public bool HasPerplexity => true;

    public long Units(TrainingBatch batch) => batch.TargetTokens;

    public Func<Tensor, Tensor> Loss(LlamaForCausalLM model, TrainingBatch batch, double[] metricSums) =>
        hidden => LanguageModelLoss.OfHidden(model, hidden, batch);
}
