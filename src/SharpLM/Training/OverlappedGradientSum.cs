using System.Diagnostics;
using SharpLM.Data;
using SharpLM.Model;
using SharpLM.Runtime;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Backpropagates a batch layer by layer, last to first, and starts summing each layer's gradients across the ranks
/// (MPI_Iallreduce) as soon as that layer's backward pass is done, while the earlier layers still compute: data
/// parallelism's overlap of communication with the backward pass. TorchSharp 0.107 has no gradient hooks, so the
/// layers run as separate graph segments joined by their inputs' gradients, as <see cref="GradientCheckpointing"/>
/// does (without its recomputation). The gradients are the ones the plain backward pass gives.
/// </summary>
sealed class OverlappedGradientSum(ProcessGroup group, IReadOnlyList<AdamW.Entry> trainable, int layerCount)
{
    /// <summary>Each layer's trainable parameters (by their names' <c>model.layers.{i}.</c> prefix), then the rest
    /// (embeddings, final norm, head), reduced last.</summary>
    readonly List<Tensor>[] groups = GroupByLayer(trainable, layerCount);

    /// <summary>Adds the batch's gradients (summed loss divided by <paramref name="divisor"/>) to the parameters and
    /// sums every trainable gradient across the ranks; returns the summed loss, the bytes each rank sent and the time spent
    /// waiting for the sums after the backward pass.</summary>
    public (float Loss, long Bytes, TimeSpan Waited) Backward(LlamaForCausalLM model, TrainingBatch batch, double divisor,
        Func<Tensor, Tensor> lossOfHidden)
    {
        using var scope = NewDisposeScope();
        var (embeddings, cos, sin, mask) = model.model.LayerInputs(batch.InputIds, batch.ForwardOptions);
        var layers = model.model.layers;
        var inputs = new Tensor[layers.Count];
        var outputs = new Tensor[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            inputs[i] = (i == 0 ? embeddings : outputs[i - 1]).detach().requires_grad_(true);
            outputs[i] = layers[i].forward(inputs[i], cos, sin, mask, null);
        }
        var last = outputs[^1].detach().requires_grad_(true);
        var loss = lossOfHidden(model.model.norm.forward(last));
        (loss / divisor).backward();

        var pending = new List<Reduction>();
        var gradient = last.grad!;
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            (outputs[i] * gradient).sum().backward();
            gradient = inputs[i].grad!;
            Start(groups[i], pending);
            foreach (var reduction in pending) group.Test(ref reduction.Request);
        }
        if (embeddings.requires_grad) (embeddings * gradient).sum().backward(); // frozen under LoRA
        Start(groups[^1], pending);

        long bytes = 0;
        var waiting = Stopwatch.StartNew();
        using var noGrad = no_grad();
        foreach (var reduction in pending)
        {
            group.Wait(ref reduction.Request);
            TensorAllReduce.CopyBack(reduction.Flat, reduction.Gradients);
            bytes += 2 * group.RingShare(reduction.Flat.numel() * sizeof(float));
        }
        return (loss.item<float>(), bytes, waiting.Elapsed);
    }

    /// <summary>A started sum of some gradients, copied into one flat buffer.</summary>
    sealed class Reduction(Tensor flat, List<Tensor> gradients)
    {
        public int Request;
        public Tensor Flat { get; } = flat;
        public List<Tensor> Gradients { get; } = gradients;
    }

    /// <summary>Copies the parameters' gradients into one flat buffer and starts summing it.</summary>
    unsafe void Start(List<Tensor> parameters, List<Reduction> pending)
    {
        if (parameters.Count == 0) return;
        var gradients = parameters.Select(p => p.grad ?? throw new SharpLMException($"rank {group.Rank}: a trainable parameter got no gradient"))
            .ToList();
        Tensor flat;
        using (no_grad())
            flat = TensorAllReduce.Flatten(gradients);
        var reduction = new Reduction(flat, gradients);
        // libtorch's memory does not move, so the address stays valid until the reduction is waited for.
        fixed (byte* p = flat.bytes)
            reduction.Request = group.StartAllReduceSum((float*)p, (int)flat.numel());
        pending.Add(reduction);
    }

    static List<Tensor>[] GroupByLayer(IReadOnlyList<AdamW.Entry> trainable, int layerCount)
    {
        var groups = Enumerable.Range(0, layerCount + 1).Select(_ => new List<Tensor>()).ToArray();
        foreach (var entry in trainable)
        {
            int layer = layerCount;
            if (entry.Name.StartsWith("model.layers."))
            {
                var index = entry.Name["model.layers.".Length..].Split('.')[0];
                layer = int.Parse(index);
            }
            groups[layer].Add(entry.Parameter);
        }
        return groups;
    }
}
