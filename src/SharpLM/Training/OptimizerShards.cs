using SharpLM.Runtime;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// ZeRO stage 1, the optimiser-state part of fully sharded training: each rank owns whole parameters making up about
/// 1/N of the trainable values, keeps AdamW's two moments for those only and updates them; then each owner shares
/// its updated weights with the others. Gradients are still summed in full on every rank, so the steps are the ones
/// one process takes. A checkpoint gathers every moment, so it resumes with any number of ranks.
/// </summary>
sealed class OptimizerShards
{
    readonly ProcessGroup group;
    readonly List<AdamW.Entry>[] ownedBy;

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
    }

    /// <summary>The parameters whose optimiser state this rank keeps.</summary>
    public IReadOnlyList<AdamW.Entry> Owned => ownedBy[group.Rank];

    /// <summary>After each rank updated its own parameters: every rank gets every updated weight.</summary>
    public void ShareUpdatedWeights()
    {
        for (int rank = 0; rank < group.Size; rank++)
            TensorAllReduce.Broadcast(group, ownedBy[rank].Select(e => (Tensor)e.Parameter).ToList(), rank);
    }

    /// <summary>Every rank's moments, gathered on every rank (named as <see cref="AdamW.StateTensors"/> names them),
    /// for a complete checkpoint. The caller disposes them.</summary>
    public Dictionary<string, Tensor> GatherState(AdamW optimizer)
    {
        var own = optimizer.StateTensors();
        var gathered = new Dictionary<string, Tensor>();
        for (int rank = 0; rank < group.Size; rank++)
        {
            var names = ownedBy[rank].SelectMany(e => new[] { $"exp_avg.{e.Name}", $"exp_avg_sq.{e.Name}" }).ToList();
            var tensors = ownedBy[rank].SelectMany(e => new[] { e.Parameter, e.Parameter })
                .Select((p, i) => rank == group.Rank ? own[names[i]].clone() : zeros_like(p)).ToList();
            TensorAllReduce.Broadcast(group, tensors, rank);
            foreach (var (name, tensor) in names.Zip(tensors)) gathered[name] = tensor.DetachFromDisposeScope();
        }
        return gathered;
    }
}
