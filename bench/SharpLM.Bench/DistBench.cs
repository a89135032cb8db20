using System.Diagnostics;
using SharpLM.Data;
using SharpLM.Model;
using SharpLM.Runtime;
using SharpLM.Training;
using static TorchSharp.torch;

namespace SharpLM.Bench;

/// <summary>
/// Data-parallel training on this machine: one process using every core against N MPI ranks (mpiexec) sharing them,
/// with the same global batch; and what scale-out depends on: the share of a step spent communicating, the bytes
/// each rank sends per step, and the optimiser's memory per rank.
/// Each configuration runs once (the base preset takes minutes). Usage: bench dist [--ranks 2] [--steps 4] [--base-steps 2];
/// needs MPICH's mpiexec.
/// </summary>
static class DistBench
{
    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        if (a.Has("worker")) return Worker(a);
        int ranks = a.Int("ranks", 2);
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; load averages {BenchSetup.LoadAverage()}");
        Console.WriteLine("| preset | batch x seq | processes x threads | train tok/s | vs one process | communication share of a step | " +
                          "sent per rank and step | AdamW state per rank |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (preset, batch, seq, steps) in new[] { ("small", 8, 256, a.Get("steps", "4")), ("base", 4, 512, a.Get("base-steps", "2")) })
        {
            var args = $"dist --worker --preset {preset} --batch {batch} --seq {seq} --steps {steps}";
            var one = BenchSetup.LastLineOfChild(args);
            double Rate(string row) => double.TryParse(row.Split('|', StringSplitOptions.TrimEntries)[4].Replace(",", ""), out var v) ? v : 0;
            Console.WriteLine(one);
            foreach (var shard in new[] { "", " --overlap", " --shard" })
            {
                var many = BenchSetup.LastLineOfChild(args + shard, ranks);
                Console.WriteLine(many.Replace("| ratio |", $"| {Rate(many) / Rate(one):F2}x |"));
            }
        }
        return 0;
    }

    static int Worker(BenchArgs a)
    {
        using var group = ProcessGroup.FromEnvironment();
        int threads = Math.Max(1, Environment.ProcessorCount / group.Size);
        set_num_threads(threads);
        var preset = a.Get("preset", "small");
        var config = ModelPresets.Get(preset);
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(1);
        int batch = a.Int("batch", 8), seq = a.Int("seq", 256), steps = a.Int("steps", 4);
        var rng = new Random(1);
        var docs = Enumerable.Range(0, batch * (steps + 1))
            .Select(_ => Enumerable.Range(0, seq).Select(_ => rng.Next(4, config.VocabSize)).ToArray());
        var data = PretrainingDataset.Build(docs, seq, RowMode.Packed, 1, 2, 0);
        var options = new TrainingOptions
        {
            BatchSize = batch, MaxSteps = steps + 1, Precision = Precision.Fp32, WarmupSteps = 1, ShardOptimizer = a.Has("shard"),
            OverlapCommunication = a.Has("overlap"),
        };
        using var trainer = new Trainer(model, data, null, options, group);
        var indices = Enumerable.Range(0, batch).ToArray();
        trainer.TrainStep(indices); // warm-up: allocations, first-call overheads
        var before = trainer.Communication;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) trainer.TrainStep(indices);
        double seconds = clock.Elapsed.TotalSeconds;
        var (time, bytes) = (trainer.Communication.Time - before.Time, trainer.Communication.Bytes - before.Bytes);
        long optimizerBytes = trainer.Optimizer.StateTensors().Values.Sum(t => t.numel() * t.element_size());
        if (group.IsMain)
            Console.WriteLine($"| {preset} | {batch} x {seq} | {group.Size} x {threads}" +
                              $"{(options.ShardOptimizer ? ", ZeRO-1" : "")}{(options.OverlapCommunication ? ", overlapped" : "")} | " +
                              $"{(double)batch * seq * steps / seconds:N0} | " +
                              $"{(group.Size == 1 ? "1.00x" : "ratio")} | {(group.Size == 1 ? "-" : $"{100 * time.TotalSeconds / seconds:F1}%")} | " +
                              $"{(group.Size == 1 ? "-" : $"{bytes / steps / 1e6:F0} MB")} | {optimizerBytes / 1e6:F0} MB |");
        return 0;
    }
}
