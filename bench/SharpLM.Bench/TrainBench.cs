using System.Diagnostics;
using SharpLM.Adapters;
using SharpLM.Data;
using SharpLM.Generation;
using SharpLM.Model;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Bench;

/// <summary>
/// Training and generation speed of the model presets, as tokens/s and as a fraction of the fp32 matmul peak
/// measured in the same run, and against the tutorial's model code in PyTorch (Debian's python3-torch) on the same shape,
/// batch and threads. Each configuration runs in its own process so its peak memory is its own.
/// Each figure is the median of --repeat runs (default 3): this kind of machine varies a lot from run to run. Each run
/// times its steps after --warmup untimed ones (default 3), SharpLM's and PyTorch's alike: the first step creates the
/// gradients and the optimiser state, and the next ones still take memory from the system that later steps reuse
/// (measured on `base` bf16: SharpLM 15.1, 7.6, 7.4, 7.2 s after one warm-up step; PyTorch 21.5, 15.9, 12.3, 12.5 s).
/// Usage: bench train [--steps 8] [--base-steps 2] [--repeat 3] [--warmup 3] [--pairs 12] [--base-pairs 4]; --lora-only runs just
/// the full vs LoRA comparison, --pytorch-only just the comparison with PyTorch (step by step, see <see cref="ComparePyTorch"/>),
/// --no-base leaves out the `base`
/// preset (about 3/4 of the whole run),
/// --checkpointing-only the base preset with and without gradient checkpointing, --memory-only full fine-tuning against LoRA,
/// LoRA over a bf16 base and that with gradient checkpointing.
/// </summary>
static class TrainBench
{
    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        if (a.Has("one")) return RunOne(a);

        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, torch threads {get_num_threads()}; load average {LoadAverage()}");
        double libtorch32 = MatmulPeak.Libtorch(ScalarType.Float32), sharpLM32 = MatmulPeak.SharpLM();
        var peak16 = MatmulPeak.Libtorch(ScalarType.BFloat16);
        var peak32 = Math.Max(libtorch32, sharpLM32);
        Console.WriteLine($"matmul peak (2048^2): fp32 {libtorch32:F0} GFLOP/s in libtorch, {sharpLM32:F0} in SharpLM's kernel; " +
                          $"bf16 {peak16:F0} in libtorch. \"% of fp32 peak\" below is of the best fp32 figure, {peak32:F0}; the cores' " +
                          $"fp32 multiply-add peak (registers only, no product reaches it) is {MatmulPeak.MultiplyAdd(get_num_threads()):F0}.");
        Console.WriteLine();
        var steps = a.Get("steps", "8");
        bool comparisonOnly = a.Has("pytorch-only");
        if (!comparisonOnly)
        {
            Console.WriteLine("| preset | precision | batch x seq | train tok/s | GFLOP/s | % of fp32 peak | peak RSS |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
        }
        if (a.Has("memory-only"))
        {
            foreach (var variant in new[] { "", " --lora", " --lora --bf16-base", " --lora --bf16-base --checkpointing" })
                Console.WriteLine(Median(a, $"train --one --preset base --batch 4 --seq 512 --precision Fp32 --steps {a.Get("base-steps", "2")} " +
                                            $"--peak {peak32}{variant}", column: 4));
            return 0;
        }
        if (a.Has("checkpointing-only"))
        {
            foreach (var checkpointing in new[] { "", " --checkpointing" })
                Console.WriteLine(Median(a, $"train --one --preset base --batch 4 --seq 512 --precision Fp32 --steps {a.Get("base-steps", "2")} " +
                                            $"--peak {peak32}{checkpointing}", column: 4));
            return 0;
        }
        var compared = new List<Comparison>();
        foreach (var precision in new[] { "Fp32", "Bf16" })
            foreach (var variant in precision == "Fp32" ? new[] { "", " --libtorch-products", " --lora" } : ["", " --lora"])
            {
                var args = $"train --one --preset small --batch 8 --seq 256 --precision {precision} --steps {steps} --peak {peak32}{variant}";
                if (variant == "") compared.Add(new("small", 8, 256, precision, a.Int("pairs", 12), args)); // the default: SharpLM's kernels
                if (!comparisonOnly) Console.WriteLine(Median(a, args, column: 4));
            }
        if (a.Has("lora-only")) return 0;
        foreach (var precision in a.Has("no-base") ? [] : new[] { "Fp32", "Bf16" })
        {
            var baseSteps = a.Get("base-steps", "2");
            var args = $"train --one --preset base --batch 4 --seq 512 --precision {precision} --steps {baseSteps} --peak {peak32}";
            compared.Add(new("base", 4, 512, precision, a.Int("base-pairs", 4), args));
            if (!comparisonOnly) Console.WriteLine(Median(a, args, column: 4));
        }
        ComparePyTorch(a, compared, peak16);
        if (comparisonOnly) return 0;
        Console.WriteLine();
        Console.WriteLine("| preset | dtype | KV cache | generate tok/s (batch 1, 128 new tokens after 16) | peak RSS |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (dtype, cache) in new[] { ("Float32", true), ("Float32", false), ("BFloat16", true) })
            Console.WriteLine(Median(a, $"train --one --generate --preset small --dtype {dtype}{(cache ? "" : " --no-cache")}", column: 4));
        return 0;
    }

    static int RunOne(BenchArgs a)
    {
        var config = ModelPresets.Get(a.Get("preset", "small"));
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(1);
        if (a.Has("generate")) return Generate(a, model);
        if (a.Has("libtorch-products")) Projection.Kernels = false; // what SharpLM's product kernels gain

        int batch = a.Int("batch", 8), seq = a.Int("seq", 256), steps = a.Int("steps", 8);
        var precision = Enum.Parse<Precision>(a.Get("precision", "Fp32"));
        var rng = new Random(1);
        var docs = Enumerable.Range(0, batch * (steps + 1))
            .Select(_ => Enumerable.Range(0, seq).Select(_ => rng.Next(4, config.VocabSize)).ToArray());
        var data = PretrainingDataset.Build(docs, seq, RowMode.Packed, 1, 2, 0);
        bool checkpointing = a.Has("checkpointing");
        var options = new TrainingOptions
        {
            BatchSize = batch, MaxSteps = steps + 1, Precision = precision, WarmupSteps = 1, GradientCheckpointing = checkpointing,
        };
        // LoRA as `sharplm finetune` sets it up by default: rank 8 on all seven projections, base frozen.
        bool lora = a.Has("lora");
        bool bf16Base = a.Has("bf16-base");
        if (bf16Base) FrozenBase.Store(model, ScalarType.BFloat16);
        if (lora) Lora.Apply(model, new LoraOptions(), seed: 1);
        using var trainer = new Trainer(model, data, null, options);
        var indices = Enumerable.Range(0, batch).ToArray();
        for (int i = 0; i < a.Int("warmup", 3); i++) trainer.TrainStep(indices); // allocations, first-call overheads
        if (a.Has("lockstep")) return LockstepComparison.Serve(() => trainer.TrainStep(indices));
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) trainer.TrainStep(indices);
        double tokPerSec = (double)batch * seq * steps / clock.Elapsed.TotalSeconds;
        double gflops = tokPerSec * config.TrainingFlopsPerToken(seq) / 1e9;
        double peak = double.Parse(a.Get("peak", "0"));
        string name = $"{a.Get("preset", "small")} ({config.ParameterCount() / 1e6:F1} M){(lora ? ", LoRA r8" : "")}" +
                      (bf16Base ? ", bf16 base" : "") +
                      (checkpointing ? ", gradient checkpointing" : "") + (Projection.Kernels ? "" : ", libtorch's products");
        // LoRA skips the frozen weights' gradients, so the full model's FLOP count does not apply to it.
        string rate = lora ? "- | -" : $"{gflops:F0} | {100 * gflops / peak:F0}%";
        Console.WriteLine($"| {name} | {precision} | {batch} x {seq} | {tokPerSec:N0} | {rate} | {PeakRss()} |");
        return 0;
    }

    static int Generate(BenchArgs a, LlamaForCausalLM model)
    {
        var dtype = Enum.Parse<ScalarType>(a.Get("dtype", "Float32"));
        if (dtype != ScalarType.Float32) model.to(dtype);
        model.eval();
        bool cache = !a.Has("no-cache");
        var generator = new TokenGenerator(model, cache);
        var prompt = Enumerable.Range(10, 16).ToArray();
        var options = SamplingOptions.Greedy with { MaxNewTokens = 128 };
        generator.Generate(prompt, options with { MaxNewTokens = 8 }, new HashSet<int>()).Count(); // warm-up
        var clock = Stopwatch.StartNew();
        int n = generator.Generate(prompt, options, new HashSet<int>()).Count();
        Console.WriteLine($"| {a.Get("preset", "small")} | {dtype} | {(cache ? "yes" : "no")} | {n / clock.Elapsed.TotalSeconds:N0} | {PeakRss()} |");
        return 0;
    }

    /// <summary>A SharpLM training configuration (its `train --one` arguments) to compare with PyTorch's in
    /// <paramref name="Pairs"/> pairs of steps.</summary>
    sealed record Comparison(string Preset, int Batch, int Seq, string Precision, int Pairs, string Args);

    /// <summary>The same training steps in the tutorial's PyTorch code (see <see cref="PyTorchReference"/>), alternated with
    /// SharpLM's one by one (<see cref="LockstepComparison"/>), and SharpLM's ratio: the median of the pairs' ratios, with
    /// their middle half (25th to 75th percentile). The shares of the peak are of the fp32 matmul peak measured after each
    /// pair (PyTorch's bf16 of <paramref name="peak16"/>, measured at the start), medians over the pairs. The last column
    /// bounds the ratio: the peak of the products SharpLM runs in that precision (fp32's for bf16 on its fp32 kernels,
    /// <see cref="PrecisionProbe.Bf16OnKernels"/>) over PyTorch's rate, which is what SharpLM would reach at that peak. The
    /// very last says for how long each engine's process kept a core busy after its step, which the next step waited out.</summary>
    static void ComparePyTorch(BenchArgs a, IEnumerable<Comparison> rows, double peak16)
    {
        Console.WriteLine();
        if (PyTorchReference.FindPython() is not { } python)
        {
            Console.WriteLine("PyTorch comparison skipped: no python3 with torch (Debian: apt-get install python3-torch libopenblas0-pthread)");
            return;
        }
        // Whether bf16 runs on SharpLM's fp32 kernels (which peak the last column uses), decided now, on a quiet machine:
        // measured first after a row, it timed libtorch while the row's children were still exiting.
        PrecisionProbe.Measure();
        var blas = PyTorchReference.ChooseBlas(python, get_num_threads());
        Console.WriteLine(blas.Report);
        Console.WriteLine();
        Console.WriteLine($"| preset | precision | batch x seq | step pairs | SharpLM tok/s | PyTorch 1.13 tok/s ({get_num_threads()} threads) | " +
                          "SharpLM / PyTorch (median of pairs) | middle half of the pairs' ratios | SharpLM % of fp32 peak | " +
                          "PyTorch % of peak | ratio at the peak | ms busy after a step (SharpLM / PyTorch) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        int warmup = a.Int("warmup", 3), threads = get_num_threads();
        foreach (var row in rows)
        {
            var pairs = LockstepComparison.Run(BenchSetup.Child($"{row.Args} --warmup {warmup} --lockstep"),
                PyTorchReference.LockstepTraining(python, row.Preset, row.Batch, row.Seq, row.Precision, threads, warmup, blas), row.Pairs);
            string shape = $"| {row.Preset} | {row.Precision} | {row.Batch} x {row.Seq} | {row.Pairs} |";
            if (pairs is null)
            {
                Console.WriteLine($"{shape} failed: a child process ended early |");
                continue;
            }
            double tokens = row.Batch * row.Seq, flopsPerStep = tokens * ModelPresets.Get(row.Preset).TrainingFlopsPerToken(row.Seq) / 1e9;
            bool bf16 = row.Precision == "Bf16", ourPeakIsFp32 = !bf16 || PrecisionProbe.Bf16OnKernels();
            var ratios = pairs.Select(p => p.PyTorchSeconds / p.SharpLMSeconds).Order().ToList();
            double MedianOverPairs(Func<LockstepComparison.Pair, double> f) => BenchSetup.Median(pairs.Select(f));
            string Quartiles() => $"{ratios[(ratios.Count - 1) / 4]:F2} - {ratios[ratios.Count * 3 / 4]:F2}";
            Console.WriteLine($"{shape} {MedianOverPairs(p => tokens / p.SharpLMSeconds):N0} | " +
                              $"{MedianOverPairs(p => tokens / p.PyTorchSeconds):N0} | " +
                              $"{BenchSetup.Median(ratios):F2}x | {Quartiles()} | " +
                              $"{MedianOverPairs(p => 100 * flopsPerStep / p.SharpLMSeconds / p.Peak):F0}% | " +
                              $"{MedianOverPairs(p => 100 * flopsPerStep / p.PyTorchSeconds / (bf16 ? peak16 : p.Peak)):F0}% | " +
                              $"{MedianOverPairs(p => (ourPeakIsFp32 ? p.Peak : peak16) * p.PyTorchSeconds / flopsPerStep):F2}x | " +
                              $"{MedianOverPairs(p => p.SharpLMBusyAfter):F0} / {MedianOverPairs(p => p.PyTorchBusyAfter):F0} |");
        }
    }

    static double Rate(string row, int column) =>
        double.TryParse(row.Split('|', StringSplitOptions.TrimEntries)[column].Replace(",", ""), out var v) ? v : double.NaN;

    /// <summary>Runs a configuration several times and returns the table row whose tokens/s (in
    /// <paramref name="column"/>) is the median.</summary>
    static string Median(BenchArgs a, string args, int column)
    {
        args += $" --warmup {a.Int("warmup", 3)}";
        var rows = Enumerable.Range(0, a.Int("repeat", 3)).Select(_ => BenchSetup.LastLineOfChild(args)).ToList();
        return rows.OrderBy(row => Rate(row, column)).ElementAt(rows.Count / 2);
    }

    static string PeakRss() => $"{Process.GetCurrentProcess().PeakWorkingSet64 / 1e9:F2} GB";

    static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
