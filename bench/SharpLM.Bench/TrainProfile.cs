using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using SharpLM.Training;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Bench;

/// <summary>
/// Where a training step's time goes: one step (fp32, or bf16 products over fp32 weights as the trainer's Bf16 precision
/// runs them) timed whole (forward, backward, gradient clipping, AdamW, as the
/// trainer runs it), then each of its operations' forward and backward run alone on the model's own modules at the step's
/// shapes, times how often a step runs it. Products show their GFLOP/s (forward and backward: 6 x rows x in x out), beside the
/// machine's matmul peak measured first;
/// the remainder (step minus the sum of the parts) is what the parts cost only together.
/// Usage: bench train-profile [--preset small] [--batch 8] [--seq 256] [--steps 3] [--precision Fp32|Bf16].
/// </summary>
static class TrainProfile
{
    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        var preset = a.Get("preset", "small");
        int batch = a.Int("batch", 8), seq = a.Int("seq", 256), steps = a.Int("steps", 3);
        using var model = new LlamaForCausalLM(ModelPresets.Get(preset));
        model.InitializeWeights(1);
        model.train();
        var precision = Enum.Parse<Precision>(a.Get("precision", "Fp32"));
        PrecisionProbe.Apply(model, precision); // as the trainer sets it
        var config = model.Config;
        var generator = new Generator(1);
        using var data = new TrainingBatch
        {
            InputIds = randint(config.VocabSize, [batch, seq], generator: generator),
            Labels = randint(config.VocabSize, [batch, seq], generator: generator),
        };
        var parameters = model.parameters().ToList();
        using var optimizer = new AdamW(model.named_parameters().Select(p => new AdamW.Entry(p.name, p.parameter, true)), new AdamW.Options());
        long rows = (long)batch * seq;
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, torch threads {get_num_threads()}; " +
                          $"load averages {BenchSetup.LoadAverage()}");
        Console.WriteLine($"{preset} ({config.ParameterCount() / 1e6:F1} M), {precision}, {batch} x {seq} tokens per step; matmul peak (2048^2): " +
                          $"fp32 {MatmulPeak.Libtorch(ScalarType.Float32):F0} GFLOP/s in libtorch, {MatmulPeak.SharpLM():F0} in SharpLM's kernel; " +
                          $"bf16 {MatmulPeak.Libtorch(ScalarType.BFloat16):F0} in libtorch; the cores' fp32 multiply-add peak " +
                          $"{MatmulPeak.MultiplyAdd(get_num_threads()):F0}");

        double step = Time(steps, () =>
        {
            using var scope = NewDisposeScope();
            (LanguageModelLoss.Sum(model, data) / rows).backward();
            ClipAndUpdate(optimizer, parameters);
            optimizer.ZeroGrad();
        });
        var parts = Parts(model, data, optimizer, parameters, steps);
        optimizer.ZeroGrad();

        Console.WriteLine();
        Console.WriteLine("| operation, forward + backward | per step | ms each | ms per step | share of the step | GFLOP/s |");
        Console.WriteLine("|---|---|---|---|---|---|");
        double sum = 0;
        foreach (var (name, count, ms, flops) in parts)
        {
            if (!name.StartsWith("(")) sum += count * ms;
            Console.WriteLine($"| {name} | {count} | {ms:F2} | {count * ms:F1} | {100 * count * ms / step:F1}% | " +
                              $"{(flops > 0 ? $"{flops / (ms * 1e-3) / 1e9:F0}" : "-")} |");
        }
        Console.WriteLine($"| remainder (step - parts) | | | {step - sum:F1} | {100 * (step - sum) / step:F1}% | |");
        Console.WriteLine($"| **training step** | 1 | | **{step:F1}** | 100% | {rows / (step * 1e-3):F0} tokens/s |");
        return 0;
    }

    static List<(string Name, int Count, double Ms, double Flops)> Parts(LlamaForCausalLM model, TrainingBatch data, AdamW optimizer,
        List<Parameter> parameters, int steps)
    {
        var config = model.Config;
        var (b, t, h) = (data.InputIds.size(0), data.InputIds.size(1), (long)config.HiddenSize);
        int layers = config.NumHiddenLayers, heads = config.NumAttentionHeads, kvHeads = config.NumKeyValueHeads, d = config.HeadDim;
        var layer = model.model.layers[0];
        var x = randn(b, t, h);
        var (cos, sin) = model.model.rotary_emb.ForRange(0, t);
        var parts = new List<(string, int, double, double)>
        {
            ("embedding", 1, Time(steps, () => Backward(model.model.embed_tokens.forward(data.InputIds))), 0),
            ("RMSNorm", 2 * layers + 1, ForwardBackward(steps, layer.input_layernorm.forward, x), 0),
        };
        var attention = layer.self_attn;
        foreach (var (name, p) in new (string, Projection)[]
                 {
                     ("q_proj", attention.q_proj), ("k_proj", attention.k_proj), ("v_proj", attention.v_proj), ("o_proj", attention.o_proj),
                     ("gate_proj", layer.mlp.gate_proj), ("up_proj", layer.mlp.up_proj), ("down_proj", layer.mlp.down_proj),
                 })
            parts.Add(($"{name} [{p.OutFeatures} x {p.InFeatures}]", layers, ForwardBackward(steps, p.forward, randn(b, t, p.InFeatures)),
                6.0 * b * t * p.InFeatures * p.OutFeatures));
        var q = randn(b, heads, t, d);
        var rotated = randn(b, t, heads, d).transpose(1, 2); // as Attention.forward lays q out
        parts.Add(("RoPE (q and k)", 2 * layers, ForwardBackward(steps, y => RotaryEmbedding.Apply(y, cos, sin), rotated), 0));
        parts.Add(("(not in the step: libtorch's RoPE)", 2 * layers,
            ForwardBackward(steps, Unfused(y => RotaryEmbedding.Apply(y, cos, sin), on => FusedRope.Enabled = on), rotated), 0));
        var kv = randn(b, kvHeads, t, d).requires_grad_(true); // the step needs the gradients of k and v too
        // As Attention.forward runs it: on SharpLM's kernels where they apply.
        parts.Add(($"causal attention ({heads} heads, {kvHeads} key/value heads)", layers,
            ForwardBackward(steps, y => Attention.Causal(y, kv, kv), q), 4.0 * b * heads * t * t * d * 3.5 / 2));
        parts.Add(("(not in the step: libtorch's attention, k and v repeated per query head)", layers,
            ForwardBackward(steps, Unfused(y => Attention.Causal(y, kv, kv), on => CausalAttention.Enabled = on), q),
            4.0 * b * heads * t * t * d * 3.5 / 2));
        var gate = randn(b, t, config.IntermediateSize);
        // Both inputs need a gradient, as in the step; a new leaf for up each call, so that no gradient accumulates on it.
        parts.Add(("SiLU(gate) * up", layers, ForwardBackward(steps, y => Mlp.Gating(y, gate.detach().requires_grad_(true)), gate), 0));
        parts.Add(("residual add", 2 * layers, ForwardBackward(steps, y => y + x, x), 0));
        double headFlops = 6.0 * b * t * h * config.VocabSize;
        parts.Add(("LM head + cross-entropy (fused)", 1, ForwardBackward(steps, y => LanguageModelLoss.OfHidden(model, y, data), x), headFlops));
        parts.Add(("(not in the step: LM head, then libtorch's cross-entropy)", 1,
            ForwardBackward(steps, y => LanguageModelLoss.OfLogits(model.Head(y), data), x), headFlops));
        // The same gradients each time: a step drops them after the update (ZeroGrad), which costs next to nothing.
        using (no_grad())
            foreach (var p in parameters) p.grad ??= zeros_like(p);
        parts.Add(("gradient clipping + AdamW", 1, Time(steps, () => ClipAndUpdate(optimizer, parameters)), 0));
        return parts;
    }

    /// <summary>The trainer's update: the gradients' norm, and AdamW with the factor that clips them to 1.</summary>
    static void ClipAndUpdate(AdamW optimizer, List<Parameter> parameters) =>
        optimizer.Update(3e-4, GradientClipping.Factor(GradientClipping.Norm(parameters), 1.0));

    /// <summary><paramref name="f"/> with SharpLM's fused operation switched off by <paramref name="enable"/>(false) while it
    /// runs: the libtorch steps it replaces.</summary>
    static Func<Tensor, Tensor> Unfused(Func<Tensor, Tensor> f, Action<bool> enable) => y =>
    {
        enable(false);
        try
        {
            return f(y);
        }
        finally
        {
            enable(true);
        }
    };

    /// <summary>Milliseconds of <paramref name="f"/>'s forward and backward pass from an input like <paramref name="input"/>.</summary>
    static double ForwardBackward(int steps, Func<Tensor, Tensor> f, Tensor input) => Time(steps, () =>
    {
        using var scope = NewDisposeScope();
        Backward(f(input.detach().requires_grad_(true)));
    });

    static void Backward(Tensor y)
    {
        using var gradient = ones_like(y);
        y.backward([gradient]);
    }

    /// <summary>Milliseconds per call: the best of three rounds of <paramref name="calls"/> calls, after a warm-up call.</summary>
    static double Time(int calls, Action action) => BenchSetup.BestMicrosecondsPerCall(calls, action, rounds: 3, warmUpCalls: 1) / 1000;
}
