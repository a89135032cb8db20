using System.Numerics;
using System.Runtime.InteropServices;
using SharpLM.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// AdamW (decoupled weight decay), the same update as torch.optim.AdamW. Written here rather than using
/// TorchSharp's so that its state is keyed by parameter name and saved in a plain safetensors file beside the
/// weights: resume checks names and shapes, and other tools can read it. fp32 parameters in CPU memory are updated in one
/// pass over their values (<see cref="UpdateValues"/>) instead of seven libtorch operations, each a pass and most with a
/// temporary Scalar that only a finaliser owns (see <see cref="HeldScalars"/>).
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

    /// <summary>Applies one update with learning rate <paramref name="lr"/> to every parameter that has a gradient, each
    /// gradient multiplied by <paramref name="gradientFactor"/> first (in fp32, as <c>grad.mul_(factor)</c> would): the factor
    /// of clipping (<see cref="GradientClipping.Factor"/>), without a pass over the gradients of its own.</summary>
    public void Update(double lr, float gradientFactor = 1)
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
            double shrink = decay ? 1 - lr * Settings.WeightDecay : 1;
            if (InOnePass(p, grad, s.ExpAvg, s.ExpAvgSq))
            {
                UpdateValues(Floats(p), Floats(grad), Floats(s.ExpAvg), Floats(s.ExpAvgSq),
                    new Coefficients(gradientFactor, (float)shrink, (float)b1, (float)(1 - b1), (float)b2, (float)(1 - b2),
                        (float)(lr / bias1), (float)Math.Sqrt(bias2), (float)Settings.Eps));
                continue;
            }
            if (gradientFactor != 1)
            {
                using TorchSharp.Scalar factor = gradientFactor; // held through the call (see HeldScalars)
                grad = grad.mul(factor);
            }
            if (shrink != 1) p.mul_(shrink);
            s.ExpAvg.mul_(b1).add_(grad, alpha: 1 - b1);
            s.ExpAvgSq.mul_(b2).addcmul_(grad, grad, value: 1 - b2);
            var denom = (s.ExpAvgSq.sqrt() / Math.Sqrt(bias2)).add_(Settings.Eps);
            p.addcdiv_(s.ExpAvg, denom, value: -lr / bias1);
        }
    }

    /// <summary>The update's numbers as libtorch's fp32 kernels take them, each worked out in double and then rounded: the
    /// gradients' factor, a parameter's shrink by weight decay, the betas and their complements, the step size (learning rate
    /// over the first bias correction) and the square root of the second.</summary>
    readonly record struct Coefficients(float GradientFactor, float Shrink, float Beta1, float OneMinusBeta1, float Beta2,
        float OneMinusBeta2, float StepSize, float Bias2Root, float Eps);

    static bool InOnePass(params Tensor[] tensors) =>
        tensors.All(t => t.dtype == ScalarType.Float32 && t.device_type == TorchSharp.DeviceType.CPU && t.is_contiguous());

    static Span<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);

    /// <summary>torch.optim.AdamW's update of one parameter, its steps in the same order and in fp32: g *= factor;
    /// p *= shrink; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= step m / (sqrt(v) / sqrt(bias2) + eps). Split across the cores.</summary>
    static unsafe void UpdateValues(Span<float> p, Span<float> g, Span<float> m, Span<float> v, Coefficients c)
    {
        fixed (float* pp = p, gp = g, mp = m, vp = v)
        {
            var (pAt, gAt, mAt, vAt) = ((nint)pp, (nint)gp, (nint)mp, (nint)vp);
            OutputRowSplit.Run(p.Length, OutputRowSplit.Threads, (first, end) =>
                UpdateRange(new Span<float>((float*)pAt + first, end - first), new Span<float>((float*)gAt + first, end - first),
                    new Span<float>((float*)mAt + first, end - first), new Span<float>((float*)vAt + first, end - first), c));
        }
    }

    static void UpdateRange(Span<float> p, Span<float> g, Span<float> m, Span<float> v, Coefficients c)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vp = MemoryMarshal.Cast<float, Vector<float>>(p);
            var vg = MemoryMarshal.Cast<float, Vector<float>>(g);
            var vm = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            for (int k = 0; k < vp.Length; k++)
            {
                var grad = vg[k] * c.GradientFactor; // exact when the factor is 1
                vm[k] = vm[k] * c.Beta1 + grad * c.OneMinusBeta1;
                vv[k] = vv[k] * c.Beta2 + grad * grad * c.OneMinusBeta2;
                vp[k] = vp[k] * c.Shrink - vm[k] / (Vector.SquareRoot(vv[k]) / c.Bias2Root + new Vector<float>(c.Eps)) * c.StepSize;
            }
            i = vp.Length * Vector<float>.Count;
        }
        for (; i < p.Length; i++)
        {
            float grad = g[i] * c.GradientFactor;
            m[i] = m[i] * c.Beta1 + grad * c.OneMinusBeta1;
            v[i] = v[i] * c.Beta2 + grad * grad * c.OneMinusBeta2;
            p[i] = p[i] * c.Shrink - m[i] / (MathF.Sqrt(v[i]) / c.Bias2Root + c.Eps) * c.StepSize;
        }
    }

    /// <summary>Drops every parameter's gradient, as PyTorch's <c>zero_grad()</c> does by default (<c>set_to_none</c>): the next
    /// backward pass hands its gradients over instead of adding them to zeros, one pass fewer over every gradient and no
    /// zeroing pass.</summary>
    public void ZeroGrad()
    {
        foreach (var e in entries) e.Parameter.grad = null;
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
