using SharpLM.Data;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Evaluation;

/// <summary>
/// What the trainer minimises, from a batch and the model's logits for it: next-token cross-entropy
/// (<see cref="LanguageModelObjective"/>) or a preference loss (<c>Training.DpoObjective</c>). The trainer divides the summed
/// loss of a step by the units of the whole step (every micro-batch, every process), so accumulation and data parallelism
/// give the large batch's loss and gradients, and reports each metric as its sum divided by those units.
/// </summary>
public interface ITrainingObjective
{
    /// <summary>What the loss is averaged over, in messages: "target tokens", "pairs".</summary>
    string Unit { get; }

    /// <summary>Metrics reported beside the loss, each a mean per unit (TRL's names, e.g. <c>rewards/accuracies</c>).</summary>
    IReadOnlyList<string> MetricNames { get; }

    /// <summary>True when exp(mean loss) is a perplexity.</summary>
    bool HasPerplexity { get; }

    /// <summary>The units of <paramref name="batch"/> (what its loss is a sum over).</summary>
    long Units(TrainingBatch batch);

    /// <summary>The batch's loss, summed over its units, as a function of the model's final hidden states [rows, seq, hidden]
    /// for the batch (after the last norm, before the head: a loss can fuse the head with itself; a function, so that
    /// gradient checkpointing can apply it to the last layer's output). What needs no gradient,
    /// such as a reference model's log-probabilities, is computed here first. The function adds the batch's metric sums to
    /// <paramref name="metricSums"/>, in <see cref="MetricNames"/> order.</summary>
    Func<Tensor, Tensor> Loss(LlamaForCausalLM model, TrainingBatch batch, double[] metricSums);
}
