using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using SharpLM.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// The frozen model that preference training compares the policy with: the starting model. Under LoRA it is the policy
/// itself with its adapters switched off (no second copy of the weights); for full and freeze fine-tuning a frozen copy
/// of the trained weights made before training; or the policy as it is now, to compute every pair's log-probabilities once before training
/// (<see cref="Precompute"/>). It runs without gradients, in evaluation mode (no dropout, no embedding noise), with the
/// policy's matmul precision.
/// </summary>
public sealed class ReferenceModel : IDisposable
{
    readonly LlamaForCausalLM policy;
    readonly LlamaForCausalLM? copy;
    readonly bool adaptersOff;

    ReferenceModel(LlamaForCausalLM policy, LlamaForCausalLM? copy, bool adaptersOff)
    {
        this.policy = policy;
        this.copy = copy;
        this.adaptersOff = adaptersOff;
    }

    /// <summary>The policy with its adapters switched off: its frozen base.</summary>
    public static ReferenceModel AdaptersOff(LlamaForCausalLM policy) => new(policy, null, adaptersOff: true);

    /// <summary>A frozen copy of the policy's weights as they are now: a copy of each trainable one (full fine-tuning
    /// doubles the weights' memory), the frozen ones shared (they never change).</summary>
    public static ReferenceModel FrozenCopy(LlamaForCausalLM policy)
    {
        var copy = new LlamaForCausalLM(policy.Config);
        copy.to(policy.model.embed_tokens.weight!.dtype);
        var weights = policy.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
            foreach (var (name, p) in copy.named_parameters())
            {
                var source = weights.GetValueOrDefault(name) ?? throw new ArgumentException($"the policy has no parameter {name}");
                p.set_(source.requires_grad ? source.detach().clone() : source.detach());
                p.requires_grad = false;
            }
        copy.to(policy.Device); // the rotary tables; the weights are on it already
        copy.eval();
        return new ReferenceModel(policy, copy, adaptersOff: false);
    }

    /// <summary>The policy as it is now: only for log-probabilities taken before training changes it.</summary>
    public static ReferenceModel AsItIsNow(LlamaForCausalLM policy) => new(policy, null, adaptersOff: false);

    /// <summary>Each row's summed target log-probability [rows] under the reference model, without gradient.</summary>
    public Tensor Logps(TrainingBatch batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = copy ?? policy;
        bool wasTraining = model.training;
        model.eval();
        copy?.SetComputeType(policy.ComputeType, policy.Bf16OnKernels);
        using var off = adaptersOff ? policy.AdaptersOff() : null;
        try
        {
            return DpoObjective.CompletionLogps(model.forward(batch.InputIds, batch.ForwardOptions), batch.Labels).MoveToOuterDisposeScope();
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>Stores the reference log-probabilities of every pair of <paramref name="data"/> in it, so that training
    /// needs no reference model. In a group each process computes its share and all receive every pair's.</summary>
    public void Precompute(PreferenceDataset data, int batchSize, ProcessGroup? group = null, Action<int, int>? progress = null)
    {
        group ??= ProcessGroup.Single;
        if (batchSize < 1) throw new SharpLMException($"batch size must be at least 1, got {batchSize}");
        var logps = new double[2 * data.Count]; // chosen of every pair, then rejected
        int first = (int)((long)data.Count * group.Rank / group.Size), end = (int)((long)data.Count * (group.Rank + 1) / group.Size);
        for (int start = first; start < end; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batchSize, end - start);
            using var batch = data.Collate(Enumerable.Range(start, n).ToArray()).To(policy.Device);
            var rows = Logps(batch).to(float64, CPU).data<double>().ToArray();
            for (int i = 0; i < n; i++) (logps[start + i], logps[data.Count + start + i]) = (rows[i], rows[n + i]);
            progress?.Invoke(start + n - first, end - first);
        }
        group.AllReduceSum(logps);
        data.SetReferenceLogps(logps[..data.Count], logps[data.Count..]);
    }

    public void Dispose() => copy?.Dispose();
}
