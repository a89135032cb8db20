using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// AdamW (decoupled weight decay), the same update as torch.optim.AdamW. Written here rather than using
/// TorchSharp's so that its state is keyed by parameter name and saved in a plain safetensors file beside the
/// weights: resume checks names and shapes, and other tools can read it.
/// </summary>
public sealed class AdamW : IDisposable
{
    public sealed record Options(double Beta1 = 0.9, double Beta2 = 0.99, double Eps = 1e-8, double WeightDecay = 0.1);

    /// <summary>A trainable parameter and whether weight decay applies to it.</summary>
    public sealed record Entry(string Name, Parameter Parameter, bool Decay);

    readonly List<Entry> entries;
    readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> state = [];

    public AdamW(IEnumerable<Entry> parameters, Options options)
    {
        entries = parameters.ToList();
        Settings = options;
    }

    public Options Settings { get; }

    /// <summary>Number of updates done (the bias-correction step count).</summary>
    public long Step { get; private set; }

    public IReadOnlyList<Entry> Entries => entries;

    /// <summary>Applies one update with learning rate <paramref name="lr"/> to every parameter that has a gradient.</summary>
    public void Update(double lr)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Step++;
        double b1 = Settings.Beta1, b2 = Settings.Beta2;
        double bias1 = 1 - Math.Pow(b1, Step), bias2 = 1 - Math.Pow(b2, Step);
        foreach (var (name, p, decay) in entries)
        {
            var grad = p.grad;
            if (grad is null) continue;
            if (!state.TryGetValue(name, out var s))
            {
                s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
                state[name] = s;
            }
            if (decay && Settings.WeightDecay != 0) p.mul_(1 - lr * Settings.WeightDecay);
            s.ExpAvg.mul_(b1).add_(grad, alpha: 1 - b1);
            s.ExpAvgSq.mul_(b2).addcmul_(grad, grad, value: 1 - b2);
            var denom = (s.ExpAvgSq.sqrt() / Math.Sqrt(bias2)).add_(Settings.Eps);
            p.addcdiv_(s.ExpAvg, denom, value: -lr / bias1);
        }
    }

    public void ZeroGrad()
    {
        foreach (var e in entries) e.Parameter.grad?.zero_();
    }

    /// <summary>State tensors named <c>exp_avg.{param}</c> / <c>exp_avg_sq.{param}</c> plus the step count.</summary>
    public Dictionary<string, Tensor> StateTensors()
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, (m, v)) in state)
        {
            result[$"exp_avg.{name}"] = m;
            result[$"exp_avg_sq.{name}"] = v;
        }
        return result;
    }

    /// <summary>Restores state saved by <see cref="StateTensors"/>; every name and shape must match, and after the
    /// first step every parameter must have both moments. Nothing changes unless all of it checks out.</summary>
    public void LoadState(long step, IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        if (step < 0) throw new SharpLMException($"{source}: optimizer step {step} is negative");
        var byName = entries.ToDictionary(e => e.Name);
        foreach (var key in tensors.Keys)
        {
            var name = key.StartsWith("exp_avg_sq.") ? key["exp_avg_sq.".Length..]
                : key.StartsWith("exp_avg.") ? key["exp_avg.".Length..]
                : throw new SharpLMException($"{source}: unexpected optimizer tensor \"{key}\"");
            if (!byName.ContainsKey(name))
                throw new SharpLMException($"{source}: optimizer state for \"{name}\", which is not a trainable parameter of this run");
        }
        var missing = new List<string>();
        foreach (var (name, p, _) in entries)
        {
            bool hasM = tensors.TryGetValue($"exp_avg.{name}", out var m), hasV = tensors.TryGetValue($"exp_avg_sq.{name}", out var v);
            if (!hasM && !hasV)
            {
                missing.Add(name);
                continue;
            }
            if (!hasM || !hasV)
                throw new SharpLMException($"{source}: optimizer state for \"{name}\" is incomplete: {(hasM ? "exp_avg_sq" : "exp_avg")} is missing");
            foreach (var (moment, t) in new[] { ("exp_avg", m!), ("exp_avg_sq", v!) })
                if (!t.shape.SequenceEqual(p.shape))
                    throw new SharpLMException($"{source}: optimizer state {moment}.{name} has shape [{string.Join(", ", t.shape)}], " +
                                               $"the parameter [{string.Join(", ", p.shape)}]");
        }
        // Every trainable parameter gets a gradient, hence moments, on the first update: a gap means a damaged file.
        if (step > 0 && missing.Count > 0)
            throw new SharpLMException($"{source}: optimizer state is missing for {missing.Count} of {entries.Count} trainable parameters " +
                                       $"(e.g. \"{missing[0]}\") after {step} steps");
        ClearState();
        using var noGrad = no_grad();
        foreach (var (name, p, _) in entries)
            if (tensors.TryGetValue($"exp_avg.{name}", out var m) && tensors.TryGetValue($"exp_avg_sq.{name}", out var v))
                state[name] = (m.to(p.dtype, p.device).clone().DetachFromDisposeScope(), v.to(p.dtype, p.device).clone().DetachFromDisposeScope());
        Step = step;
    }

    void ClearState()
    {
        foreach (var (m, v) in state.Values) { m.Dispose(); v.Dispose(); }
        state.Clear();
    }

    public void Dispose() => ClearState();
}
