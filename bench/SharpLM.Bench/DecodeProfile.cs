using System.Diagnostics;
using SharpLM.Generation;
using SharpLM.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Bench;

/// <summary>
/// Where a decoding step's time goes: one step timed whole (as <see cref="TokenGenerator"/> runs it, KV cache filled to
/// --context tokens, libtorch on one intra-op thread), then each of its operations run alone on the model's own modules at the same
/// shapes, times how often a step runs it. Projections show the GB/s at which they read their weights; the remainder
/// (step minus the sum of the parts) is what the parts cost only together: module calls, dispose scopes, dispatch.
/// Usage: bench profile [--preset small | --model folder] [--dtype fp32|bf16|q8] [--context 128] [--steps 200].
/// </summary>
static class DecodeProfile
{
    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        var preset = a.Get("preset", "small");
        var dtype = a.Get("dtype", "fp32");
        int context = a.Int("context", 128), steps = a.Int("steps", 200);
        using var model = a.Has("model") ? SharpLM.Hub.ModelFolder.Load(a.Get("model", "")) : new LlamaForCausalLM(ModelPresets.Get(preset));
        if (!a.Has("model")) model.InitializeWeights(1);
        var config = model.Config;
        if (dtype == "bf16") model.to(ScalarType.BFloat16);
        if (dtype == "q8") model.QuantizeForInference();
        model.eval();
        using var noGrad = no_grad();
        int threads = get_num_threads();
        {
            Console.WriteLine($"machine: {Environment.ProcessorCount} cores; load averages {BenchSetup.LoadAverage()}");
            Console.WriteLine($"{preset} ({config.ParameterCount() / 1e6:F1} M), {dtype} weights, {context} cached tokens; libtorch on " +
                              $"one thread, SharpLM's product kernels on {threads}");
            double stepMicros = 0;
            Action? step = null;
            // As TokenGenerator runs a decoding step (DecodeThreads = 1).
            using var cache = new KvCache(config, 1, context + 8, model.model.norm.weight.dtype);
            var rows = IntraOpThreads.Run(1, () => Profile(model, cache, context, steps, out stepMicros, out step));
            Console.WriteLine();
            Console.WriteLine("| operation | per step | µs each | µs per step | share of the step | weights read | libtorch alone, µs each |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            double parts = 0;
            foreach (var (name, count, micros, bytes, libtorch) in rows)
            {
                parts += count * micros;
                var rate = bytes > 0 ? $"{bytes / 1e6:F1} MB at {bytes / (micros * 1e-6) / 1e9:F1} GB/s" : "-";
                Console.WriteLine($"| {name} | {count} | {micros:F1} | {count * micros:F0} | {100 * count * micros / stepMicros:F1}% | {rate} | " +
                                  $"{(libtorch > 0 ? $"{libtorch:F1}" : "-")} |");
            }
            Console.WriteLine($"| overhead (step - parts) | | | {stepMicros - parts:F0} | {100 * (stepMicros - parts) / stepMicros:F1}% | | |");
            Console.WriteLine($"| **decoding step** | 1 | | **{stepMicros:F0}** | 100% | {1e6 / stepMicros:F0} tokens/s | |");
            // TokenGenerator lowers libtorch's thread count around each step and restores it after: what that costs.
            double switched = Time(steps, () => IntraOpThreads.Run(1, () =>
            {
                step!();
                return 0;
            }));
            Console.WriteLine($"| decoding step with the thread count lowered and restored around it | 1 | | {switched:F0} | " +
                              $"{100 * switched / stepMicros:F0}% | {1e6 / switched:F0} tokens/s | |");
            // Fused against separate q/k/v and gate/up products, alternated seven times: the gap is smaller than this VM's drift.
            var (fused, separate) = (new List<double>(), new List<double>());
            for (int round = 0; round < 7; round++)
                foreach (var (enabled, times) in new[] { (true, fused), (false, separate) })
                {
                    FusedProjections.Enabled = enabled;
                    times.Add(Time(steps, () => IntraOpThreads.Run(1, () =>
                    {
                        step!();
                        return 0;
                    })));
                }
            FusedProjections.Enabled = true;
            double unfused = BenchSetup.Median(separate), withFusion = BenchSetup.Median(fused);
            Console.WriteLine($"| the same with q/k/v and gate/up as separate products (not FusedProjections), median of 7 alternated with " +
                              $"fused ({withFusion:F0} µs) | 1 | | {unfused:F0} | {100 * unfused / stepMicros:F0}% | " +
                              $"{1e6 / unfused:F0} tokens/s | |");
            if (dtype != "q8")
            {
                Projection.Kernels = false;
                double withLibtorch = Time(steps, () => IntraOpThreads.Run(1, () =>
                {
                    step!();
                    return 0;
                }));
                Projection.Kernels = true;
                Console.WriteLine($"| the same with every product in libtorch (one thread) | 1 | | {withLibtorch:F0} | " +
                                  $"{100 * withLibtorch / stepMicros:F0}% | {1e6 / withLibtorch:F0} tokens/s | |");
            }
            double generated = Generated(model, context);
            Console.WriteLine($"| TokenGenerator: {context} new tokens after {context}, per token | 1 | | {generated:F0} | " +
                              $"{100 * generated / stepMicros:F0}% | {1e6 / generated:F0} tokens/s | |");
        }
        return 0;
    }

    static List<(string Name, int Count, double Micros, long Bytes, double Libtorch)> Profile(LlamaForCausalLM model, KvCache cache,
        int context, int steps, out double stepMicros, out Action step)
    {
        var config = model.Config;
        var type = model.model.norm.weight.dtype;
        model.model.forward(randint(4, config.VocabSize, new long[] { 1, context }), new ForwardOptions { Cache = cache });
        var logits = new float[config.VocabSize];
        long length = cache.Length;

        // The whole step, as TokenGenerator's Forward runs it (cache rewound each time so its length stays --context).
        step = () =>
        {
            using var scope = NewDisposeScope();
            cache.Truncate(length);
            var hidden = model.model.forward(tensor(new long[] { 7 }).view(1, 1), new ForwardOptions { Cache = cache });
            model.Head(hidden[0, -1]).to(float32).contiguous().data<float>().CopyTo(logits);
            TokenSampler.ArgMax(logits);
        };
        stepMicros = Time(steps, step);

        var layer = model.model.layers[0];
        var attention = layer.self_attn;
        int layers = config.NumHiddenLayers;
        var x = randn(1, 1, config.HiddenSize).to(type);
        var q = attention.q_proj.forward(x).view(1, 1, config.NumAttentionHeads, config.HeadDim).transpose(1, 2);
        var k = attention.k_proj.forward(x).view(1, 1, config.NumKeyValueHeads, config.HeadDim).transpose(1, 2);
        var (cos, sin) = model.model.rotary_emb.ForRange(length, 1);
        var (keys, values) = cache.Append(0, k, k);
        var grouped = q.reshape(1, config.NumKeyValueHeads, config.NumAttentionHeads / config.NumKeyValueHeads, config.HeadDim);
        var up = layer.mlp.up_proj.forward(x);
        var rows = new List<(string, int, double, long, double)>
        {
            ("embedding lookup", 1, Time(steps, () => model.model.embed_tokens.forward(tensor(new long[] { 7 }).view(1, 1)).Dispose()), 0, 0),
            ("RMSNorm", 2 * layers + 1, Time(steps, () => layer.input_layernorm.forward(x).Dispose()), 0, 0),
        };
        foreach (var (name, projection) in new (string, Projection)[]
                 {
                     ("q_proj", attention.q_proj), ("k_proj", attention.k_proj), ("v_proj", attention.v_proj), ("o_proj", attention.o_proj),
                     ("gate_proj", layer.mlp.gate_proj), ("up_proj", layer.mlp.up_proj), ("down_proj", layer.mlp.down_proj),
                 })
        {
            var input = randn(1, 1, projection.InFeatures).to(type);
            // The same product through libtorch's linear, as decoding ran it before SharpLM's kernels (not for q8 weights).
            double libtorch = projection.Q8 is null ? Time(steps, () => F.linear(input, projection.weight).Dispose()) : 0;
            rows.Add(($"{name} [{projection.OutFeatures} x {projection.InFeatures}]", layers,
                Time(steps, () => projection.forward(input).Dispose()), WeightBytes(projection), libtorch));
        }
        if (model.lm_head is { } head)
            rows.Add(($"lm_head [{head.OutFeatures} x {head.InFeatures}]", 1, Time(steps, () => head.forward(x).Dispose()), WeightBytes(head),
                head.Q8 is null ? Time(steps, () => F.linear(x, head.weight).Dispose()) : 0));
        rows.Add(("RoPE (q and k)", 2 * layers, Time(steps, () => RotaryEmbedding.Apply(q, cos, sin).Dispose()), 0, 0));
        rows.Add(("KV cache write", layers, Time(steps, () =>
        {
            using var scope = NewDisposeScope();
            cache.Truncate(length);
            cache.Append(0, k, k);
        }), 0, 0));
        rows.Add(($"attention over {length + 1} keys", layers,
            Time(steps, () => F.scaled_dot_product_attention(grouped, keys, values, null, 0.0, false).Dispose()), 0, 0));
        rows.Add(("SiLU(gate) * up", layers, Time(steps, () =>
        {
            using var scope = NewDisposeScope();
            _ = F.silu(up) * up;
        }), 0, 0));
        rows.Add(("residual add", 2 * layers, Time(steps, () => (x + x).Dispose()), 0, 0));
        var lastLogits = randn(config.VocabSize).to(type);
        rows.Add(("logits to an fp32 array, argmax", 1, Time(steps, () =>
        {
            using var scope = NewDisposeScope();
            lastLogits.to(float32).contiguous().data<float>().CopyTo(logits);
            TokenSampler.ArgMax(logits);
        }), 0, 0));
        return rows;
    }

    /// <summary>Microseconds per decoded token of a greedy generation through <see cref="TokenGenerator"/>, the best of three.</summary>
    static double Generated(LlamaForCausalLM model, int tokens)
    {
        var generator = new TokenGenerator(model);
        var prompt = Enumerable.Range(10, tokens).ToArray();
        var options = SamplingOptions.Greedy with { MaxNewTokens = tokens, StopAtEos = false };
        double best = double.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            var clock = new Stopwatch();
            int produced = 0;
            foreach (var _ in generator.Generate(prompt, options, new HashSet<int>()))
                if (produced++ == 0) clock.Start(); // from the first token on: decoding steps only
            best = Math.Min(best, clock.Elapsed.TotalMicroseconds / (produced - 1));
        }
        return best;
    }


    static long WeightBytes(Projection p) => p.Q8 is { } q ? (long)q.Rows * q.Columns * 36 / 32 : p.weight.numel() * p.weight.element_size();

    /// <summary>Microseconds per call: the best of five rounds of <paramref name="calls"/> calls, after a warm-up round.</summary>
    static double Time(int calls, Action action) => BenchSetup.BestMicrosecondsPerCall(calls, action, rounds: 5, warmUpCalls: calls);
}
