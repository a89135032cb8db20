using SharpLM.Data;
using SharpLM.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Evaluation;

/// <summary>Next-token cross-entropy, summed over the targets that count. Callers divide by the number of targets
/// of the whole (accumulated) batch, so every target token weighs the same however the batch is split.</summary>
public static class LanguageModelLoss
{
    public static Tensor Sum(LlamaForCausalLM model, TrainingBatch batch)
    {
        using var scope = NewDisposeScope();
        return OfHidden(model, model.model.forward(batch.InputIds, batch.ForwardOptions), batch).MoveToOuterDisposeScope();
    }

    /// <summary>The summed loss of the model's final hidden states [batch, seq, hidden] against the batch's labels. A plain
    /// fp32 head on the CPU, multiplied in fp32 or bf16, is fused with the loss (<see cref="HeadCrossEntropy"/>), which never
    /// holds the whole batch's logits; any other head goes through its logits.</summary>
    public static Tensor OfHidden(LlamaForCausalLM model, Tensor hidden, TrainingBatch batch) =>
        model.PlainHead is var (weight, compute, bf16OnKernels) && HeadCrossEntropy.Applies(hidden, weight, compute, bf16OnKernels)
            ? HeadCrossEntropy.Sum(hidden, weight, compute, batch.Labels, TrainingBatch.IgnoreIndex, bf16OnKernels)
            : OfLogits(model.Head(hidden), batch);

    /// <summary>The summed loss of logits [batch, seq, vocab] against the batch's labels.</summary>
    public static Tensor OfLogits(Tensor logits, TrainingBatch batch) =>
        F.cross_entropy(logits.view(-1, logits.shape[^1]).to(float32), batch.Labels.view(-1),
            ignore_index: TrainingBatch.IgnoreIndex, reduction: nn.Reduction.Sum);
}
