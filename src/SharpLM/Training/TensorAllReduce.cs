using System.Runtime.InteropServices;
using SharpLM.Runtime;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>Tensors summed, shared or compared across the ranks of a <see cref="ProcessGroup"/>, in flat fp32 buckets:
/// one MPI call per bucket rather than one per tensor.</summary>
public static class TensorAllReduce
{
    const long BucketElements = 1 << 24;

    /// <summary>Replaces each tensor with its sum over all ranks.</summary>
    public static void Sum(ProcessGroup group, IReadOnlyList<Tensor> tensors) =>
        InBuckets(group, tensors, flat => group.AllReduceSum(MemoryMarshal.Cast<byte, float>(flat.bytes)));

    /// <summary>Gives every rank rank <paramref name="root"/>'s values of the tensors.</summary>
    public static void Broadcast(ProcessGroup group, IReadOnlyList<Tensor> tensors, int root) =>
        InBuckets(group, tensors, flat => group.Broadcast(flat.bytes, root));

    /// <summary>Runs <paramref name="communicate"/> on the tensors flattened into fp32 buckets and copies the result back.</summary>
    static void InBuckets(ProcessGroup group, IReadOnlyList<Tensor> tensors, Action<Tensor> communicate)
    {
        if (group.Size == 1) return;
        using var noGrad = no_grad();
        for (int i = 0; i < tensors.Count;)
        {
            using var scope = NewDisposeScope();
            var bucket = new List<Tensor>();
            long elements = 0;
            while (i < tensors.Count && (bucket.Count == 0 || elements + tensors[i].numel() <= BucketElements))
            {
                elements += tensors[i].numel();
                bucket.Add(tensors[i++]);
            }
            // MPI reads and writes the bucket's bytes: it is built on the CPU, and copy_ brings the result back to each tensor's device.
            var flat = cat(bucket.Select(t => t.reshape(-1).to(float32, CPU)).ToList()).contiguous();
            communicate(flat);
            long offset = 0;
            foreach (var t in bucket)
            {
                t.copy_(flat.narrow(0, offset, t.numel()).view_as(t));
                offset += t.numel();
            }
        }
    }

    /// <summary>Throws when the tensors are not the same on every rank (compared by the sum and the sum of squares of
    /// their values): ranks that drifted apart would go on training different models.</summary>
    public static void RequireSame(ProcessGroup group, IEnumerable<Tensor> tensors, string when)
    {
        if (group.Size == 1) return;
        double sum = 0, squares = 0;
        using (no_grad())
            foreach (var t in tensors)
            {
                using var scope = NewDisposeScope();
                var values = t.to(float64);
                sum += values.sum().item<double>();
                squares += values.square().sum().item<double>();
            }
        Span<double> largest = [sum, -sum, squares, -squares];
        group.AllReduceMax(largest);
        if (largest[0] != sum || largest[1] != -sum || largest[2] != squares || largest[3] != -squares)
            throw new SharpLMException($"the model's weights differ between ranks {when} (rank {group.Rank}): every rank must start from the " +
                                       "same model, data and settings");
    }
}
