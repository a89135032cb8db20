using System.Runtime.InteropServices;
using SharpLM.Runtime;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// ZeRO stage 1, the optimiser-state part of fully sharded training: each rank owns whole parameters making up about
/// 1/N of the trainable values and keeps AdamW's two moments for those only. A step reduce-scatters the gradients (each
/// rank receives the sum of its own parameters' gradients only, half the traffic of an all-reduce), clips them by the
/// norm the ranks compute together, updates its parameters, and all-gathers the updated weights. The steps are the
/// ones one process takes. A checkpoint gathers every moment, so it resumes with any number of ranks.
/// </summary>
sealed class OptimizerShards
{
    /// <summary>Parameters communicated in one MPI call, ordered by owner, so that each rank's part is one run of
    /// <see cref="Counts"/>[rank] values.</summary>
    sealed record Bucket(IReadOnlyList<AdamW.Entry> Entries, int[] Owners, int[] Counts);

    readonly ProcessGroup group;
    readonly List<AdamW.Entry>[] ownedBy;
    readonly List<Bucket> buckets = [];

    public OptimizerShards(IReadOnlyList<AdamW.Entry> entries, ProcessGroup group)
    {
        this.group = group;
        // Largest first, each to the rank holding the fewest values so far: a deterministic, even split.
        var owners = new int[entries.Count];
        var load = new long[group.Size];
        foreach (var i in Enumerable.Range(0, entries.Count).OrderByDescending(i => entries[i].Parameter.numel()).ThenBy(i => i))
        {
            owners[i] = Array.IndexOf(load, load.Min());
            load[owners[i]] += entries[i].Parameter.numel();
        }
        ownedBy = [.. Enumerable.Range(0, group.Size).Select(rank => entries.Where((_, i) => owners[i] == rank).ToList())];

        var byOwner = ownedBy.SelectMany((owned, rank) => owned.Select(e => (Entry: e, Owner: rank))).ToList();
        foreach (var bucket in TensorAllReduce.Buckets(byOwner, b => b.Entry.Parameter.numel()))
        {
            long elements = bucket.Sum(b => b.Entry.Parameter.numel());
            if (elements > int.MaxValue) throw new SharpLMException($"a parameter of {elements} values is too large for one MPI call");
            var counts = new int[group.Size];
            foreach (var (entry, owner) in bucket) counts[owner] += (int)entry.Parameter.numel();
            buckets.Add(new Bucket([.. bucket.Select(b => b.Entry)], [.. bucket.Select(b => b.Owner)], counts));
        }
    }

    /// <summary>The parameters whose optimiser state this rank keeps.</summary>
    public IReadOnlyList<AdamW.Entry> Owned => ownedBy[group.Rank];

    /// <summary>Each rank's gradients summed over all ranks, kept by their owner only (the others' gradients are left
    /// as they are and not used). Returns the bytes each rank sent (see
    /// <see cref="ProcessGroup.RingShare"/>).</summary>
    public long ReduceScatterGradients()
    {
        using var noGrad = no_grad();
        long bytes = 0;
        foreach (var bucket in buckets)
        {
            using var scope = NewDisposeScope();
            var flat = TensorAllReduce.Flatten(bucket.Entries.Select(Gradient));
            var own = empty(bucket.Counts[group.Rank], dtype: float32, device: CPU);
            group.ReduceScatterSum(Floats(flat), Floats(own), bucket.Counts);
            long offset = 0;
            foreach (var (entry, owner) in bucket.Entries.Zip(bucket.Owners))
                if (owner == group.Rank)
                {
                    var grad = Gradient(entry);
                    grad.copy_(own.narrow(0, offset, grad.numel()).view_as(grad));
                    offset += grad.numel();
                }
            bytes += group.RingShare(flat.numel() * sizeof(float));
        }
        return bytes;
    }

    /// <summary>The norm of the whole gradient, from each rank's own part (<see cref="GradientClipping"/>).</summary>
    public double GradientNorm()
    {
        using var scope = NewDisposeScope(); // the gradients' wrappers
        Span<double> squares = [GradientClipping.SumOfSquares(Owned.Select(Gradient))];
        group.AllReduceSum(squares);
        return Math.Sqrt(squares[0]);
    }

    /// <summary>After each rank updated its own parameters: every rank gets every updated weight. Returns the bytes each
    /// rank sent.</summary>
    public long ShareUpdatedWeights()
    {
        using var noGrad = no_grad();
        long bytes = 0;
        foreach (var bucket in buckets)
        {
            using var scope = NewDisposeScope();
            var parameters = bucket.Entries.Select(e => (Tensor)e.Parameter).ToList();
            var flat = TensorAllReduce.Flatten(parameters);
            group.AllGather(Floats(flat), bucket.Counts);
            TensorAllReduce.CopyBack(flat, parameters);
            bytes += group.RingShare(flat.numel() * sizeof(float));
        }
        return bytes;
    }

    /// <summary>Every rank's moments, gathered on every rank (named as <see cref="AdamW.StateTensors"/> names them),
    /// for a complete checkpoint. The caller disposes them.</summary>
    public Dictionary<string, Tensor> GatherState(AdamW optimizer)
    {
        using var noGrad = no_grad();
        var own = optimizer.StateTensors();
        var gathered = new Dictionary<string, Tensor>();
        foreach (var bucket in buckets)
            foreach (var moment in new[] { "exp_avg", "exp_avg_sq" })
            {
                using var scope = NewDisposeScope();
                var names = bucket.Entries.Select(e => $"{moment}.{e.Name}").ToList();
                var flat = TensorAllReduce.Flatten(
                    bucket.Entries.Select((e, i) => bucket.Owners[i] == group.Rank ? own[names[i]] : zeros_like(e.Parameter)));
                group.AllGather(Floats(flat), bucket.Counts);
                var tensors = bucket.Entries.Select(e => empty_like(e.Parameter)).ToList();
                TensorAllReduce.CopyBack(flat, tensors);
                foreach (var (name, tensor) in names.Zip(tensors)) gathered[name] = tensor.DetachFromDisposeScope();
            }
        return gathered;
    }

    static Tensor Gradient(AdamW.Entry entry) =>
        entry.Parameter.grad ?? throw new SharpLMException($"the trainable parameter \"{entry.Name}\" got no gradient");

    static Span<float> Floats(Tensor flat) => MemoryMarshal.Cast<byte, float>(flat.bytes);
}
