using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Training;

/// <summary>
/// Direct Preference Optimization and its kin (<see cref="PreferenceLoss"/>), with Hugging Face TRL's definitions and
/// metric names. A batch holds N pairs as 2N rows, chosen then rejected (<see cref="PreferenceDataset"/>), which go
/// through the model in one forward pass. Each row's log-probability is the sum over its completion tokens; the implicit
/// reward of a completion is beta times its log-ratio (policy minus reference). The loss is averaged per pair.
/// </summary>
public sealed class DpoObjective : ITrainingObjective
{
    /// <summary>TRL's names: mean rewards of each side, how often the chosen reward is the higher, their mean difference,
    /// and the policy's mean summed log-probability of each side.</summary>
    public static readonly IReadOnlyList<string> Metrics =
        ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"];

    readonly ReferenceModel? reference;

    /// <param name="reference">the model the policy is compared with; null when every batch carries its reference
    /// log-probabilities (<see cref="PreferenceDataset.SetReferenceLogps"/>)</param>
    public DpoObjective(PreferenceOptions options, ReferenceModel? reference)
    {
        options.Validate();
        Options = options;
        this.reference = reference;
    }

    public PreferenceOptions Options { get; }
    public string Unit => "pairs";
    public IReadOnlyList<string> MetricNames => Metrics;
    public bool HasPerplexity => false;

    public long Units(TrainingBatch batch) => batch.InputIds.shape[0] / 2;

    public Func<Tensor, Tensor> Loss(LlamaForCausalLM model, TrainingBatch batch, double[] metricSums)
    {
        var ofLogits = LossOfLogits(batch, metricSums);
        return hidden => ofLogits(model.Head(hidden));
    }

    /// <summary>As <see cref="Loss"/>, as a function of the policy's logits [rows, seq, vocab].</summary>
    public Func<Tensor, Tensor> LossOfLogits(TrainingBatch batch, double[] metricSums)
    {
        if (batch.InputIds.shape[0] % 2 != 0)
            throw new ArgumentException($"a preference batch has an even number of rows (chosen, then rejected), got {batch.InputIds.shape[0]}");
        var referenceLogps = batch.ReferenceLogps?.to(float32)
                             ?? reference?.Logps(batch)
                             ?? throw new SharpLMException("preference training needs the reference model's log-probabilities: give a " +
                                                           "reference model, or store them in the data (PreferenceDataset.SetReferenceLogps)");
        return logits => PairLosses(CompletionLogps(logits, batch.Labels), referenceLogps, batch.Labels, metricSums).sum();
    }

    /// <summary>Each row's summed log-probability of its targets [rows] (fp32), from logits [rows, seq, vocab].</summary>
    public static Tensor CompletionLogps(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var perToken = -F.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(float32), labels.reshape(-1),
            ignore_index: TrainingBatch.IgnoreIndex, reduction: nn.Reduction.None);
        return perToken.view(labels.shape[0], labels.shape[1]).sum(1).MoveToOuterDisposeScope();
    }

    /// <summary>The loss of each pair [N] from the policy's and the reference's row log-probabilities [2N]; adds the
    /// metric sums.</summary>
    public Tensor PairLosses(Tensor policyLogps, Tensor referenceLogps, Tensor labels, double[] metricSums)
    {
        using var scope = NewDisposeScope();
        long n = policyLogps.shape[0] / 2;
        var ratios = policyLogps - referenceLogps;
        var (chosenRatio, rejectedRatio) = (ratios[..(int)n], ratios[(int)n..]);
        double beta = Options.Beta, smoothing = Options.LabelSmoothing;
        Tensor losses;
        if (Options.Loss == PreferenceLoss.Ipo)
        {
            // Per completion token, as TRL does, so that beta means the same whatever the completions' lengths.
            var tokens = labels.ne(TrainingBatch.IgnoreIndex).sum(1).clamp_min(1).to(float32);
            var delta = chosenRatio / tokens[..(int)n] - rejectedRatio / tokens[(int)n..];
            losses = (delta - 1 / (2 * beta)).square();
        }
        else
        {
            var delta = chosenRatio - rejectedRatio;
            losses = -F.logsigmoid(beta * delta) * (1 - smoothing) - F.logsigmoid(-beta * delta) * smoothing;
        }
        using (no_grad())
        {
            var chosenRewards = beta * chosenRatio.detach();
            var rejectedRewards = beta * rejectedRatio.detach();
            double[] sums =
            [
                chosenRewards.sum().item<float>(), rejectedRewards.sum().item<float>(),
                chosenRewards.gt(rejectedRewards).sum().item<long>(), (chosenRewards - rejectedRewards).sum().item<float>(),
                policyLogps[..(int)n].sum().item<float>(), policyLogps[(int)n..].sum().item<float>(),
            ];
            for (int i = 0; i < sums.Length; i++) metricSums[i] += sums[i];
        }
        return losses.MoveToOuterDisposeScope();
    }
}
