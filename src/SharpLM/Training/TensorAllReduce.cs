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
    public static void Sum(ProcessGroup group, IReadOnlyList<Tensor> tensors)
    {
        if (group.Size == 1) return;
        using var noGrad = no_grad();
        foreach (var bucket in Buckets(tensors, t => t.numel()))
        {
            using var scope = NewDisposeScope();
            var flat = Flatten(bucket);
            group.AllReduceSum(MemoryMarshal.Cast<byte, float>(flat.bytes));
            CopyBack(flat, bucket);
        }
    }

    /// <summary>Consecutive runs of the items holding at most 16 M values each (a larger item alone): what one MPI call
    /// communicates.</summary>
    internal static IEnumerable<List<T>> Buckets<T>(IReadOnlyList<T> items, Func<T, long> values)
    {
        for (int i = 0; i < items.Count;)
        {
            var bucket = new List<T>();
            long elements = 0;
            while (i < items.Count && (bucket.Count == 0 || elements + values(items[i]) <= BucketElements))
            {
                elements += values(items[i]);
                bucket.Add(items[i++]);
            }
            yield return bucket;
        }
    }

    /// <summary>The tensors' values, one after another, in a flat fp32 buffer on the CPU: MPI reads and writes its bytes.</summary>
    internal static Tensor Flatten(IEnumerable<Tensor> tensors) => cat(tensors.Select(t => t.reshape(-1).to(float32, CPU)).ToList()).contiguous();

    /// <summary>Copies a <see cref="Flatten"/>ed buffer's values back into the tensors, each on its own device and in its type.</summary>
    internal static void CopyBack(Tensor flat, IEnumerable<Tensor> tensors)
    {
        long offset = 0;
        foreach (var t in tensors)
        {
            t.copy_(flat.narrow(0, offset, t.numel()).view_as(t));
            offset += t.numel();
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
