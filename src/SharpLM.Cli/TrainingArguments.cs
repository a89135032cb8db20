using System.CommandLine;
using SharpLM.Training;
using Spectre.Console;
using static TorchSharp.torch;

namespace SharpLM.Cli;

/// <summary>Optimiser, schedule and loop options shared by `pretrain` and `finetune`; each passes its own defaults.</summary>
sealed class TrainingArguments
{
    readonly Option<double?> lr;
    readonly Option<int?> gradientAccumulation;
    readonly Option<double> minLrRatio, weightDecay, beta1, beta2, eps, clip;
    readonly Option<bool> noDecayNormsAndEmbeddings;
    readonly Option<bool> gradientCheckpointing = new("--gradient-checkpointing")
    {
        Description = "Keep only each layer's input in the forward pass and recompute the layer for the backward pass: " +
                      "less activation memory, about a third more compute, the same gradients.",
    };
    readonly Option<int> earlyStoppingPatience = new("--early-stopping-patience")
    {
        Description = "Stop once the validation loss has not improved for N evaluations in a row (0 = never); the best evaluation's " +
                      "checkpoint is kept (save checkpoints at the evaluation steps).",
    };
    readonly Option<bool> shardOptimizer = new("--shard-optimizer")
    {
        Description = "Under mpiexec: each process keeps AdamW's moments for its share of the parameters only (ZeRO-1): less memory, the same steps.",
    };
    readonly Option<bool> overlapCommunication = new("--overlap-communication")
    {
        Description = "Under mpiexec: start summing each layer's gradients while earlier layers still backpropagate (not with " +
                      "--gradient-checkpointing or --shard-optimizer).",
    };
    readonly Option<long> warmup, maxSteps, evalEvery, checkpointEvery, seed;
    readonly Option<int> epochs, batchSize, microBatchSize, evalExamples, keep, logEvery;
    readonly Option<Precision> precision;
    readonly Option<string> device = DeviceOption.Create();
    readonly TrainingOptions defaults;

    /// <param name="d">the command's defaults</param>
    /// <param name="learningRateDefault">how the default learning rate is chosen, when it is not always
    /// <paramref name="d"/>'s (help then shows this text instead of one number)</param>
    public TrainingArguments(TrainingOptions d, string? learningRateDefault = null)
    {
        defaults = d;
        // Hugging Face (Trainer, TRL) and MLX-LM spellings are accepted as aliases: users type them by habit.
        lr = new("--lr", "--learning-rate")
        {
            Description = learningRateDefault is null ? "Peak learning rate." : $"Peak learning rate (default: {learningRateDefault}).",
        };
        if (learningRateDefault is null) lr.DefaultValueFactory = _ => d.LearningRate;
        minLrRatio = new("--min-lr-ratio") { Description = "The cosine decays to lr x this.", DefaultValueFactory = _ => d.MinLrRatio };
        warmup = new("--warmup") { Description = "Warm-up steps (linear from 0.1 x lr).", DefaultValueFactory = _ => d.WarmupSteps };
        weightDecay = new("--weight-decay") { Description = "AdamW decoupled weight decay.", DefaultValueFactory = _ => d.WeightDecay };
        noDecayNormsAndEmbeddings = new("--no-decay-norms-embeddings")
        {
            Description = "Exempt norms and embeddings from weight decay (the tutorial decays everything).",
        };
        beta1 = new("--beta1") { DefaultValueFactory = _ => d.Beta1, Description = "AdamW beta1." };
        beta2 = new("--beta2") { DefaultValueFactory = _ => d.Beta2, Description = "AdamW beta2." };
        eps = new("--eps") { DefaultValueFactory = _ => d.Eps, Description = "AdamW epsilon." };
        clip = new("--clip") { Description = "Clip the gradient norm to this (0 = off).", DefaultValueFactory = _ => d.ClipGradNorm };
        epochs = new("--epochs", "--num-train-epochs") { Description = "Passes over the training data.", DefaultValueFactory = _ => d.Epochs };
        maxSteps = new("--max-steps", "--iters")
        {
            Description = "Stop after this many optimiser steps (overrides --epochs; shapes the schedule). With --resume, " +
                          "a larger value extends the run, finished or not: from the checkpoint on, it follows the schedule of the new length.",
            DefaultValueFactory = _ => d.MaxSteps,
        };
        batchSize = new("--batch-size")
        {
            Description = "The global batch: examples (or packed rows) per optimiser step, however many passes it takes.",
            DefaultValueFactory = _ => d.BatchSize,
        };
        microBatchSize = new("--micro-batch-size", "--per-device-train-batch-size")
        {
            Description = "Examples per forward/backward pass; gradients are accumulated up to --batch-size (same result, less memory).",
            DefaultValueFactory = _ => d.MicroBatchSize,
        };
        precision = new("--precision")
        {
            Description = "Fp32; Bf16 matmuls over fp32 weights (faster on CPUs with AVX-512 bf16 or AMX); " +
                          "Auto picks Bf16 when this machine runs it faster.",
            DefaultValueFactory = _ => Precision.Auto,
        };
        evalEvery = new("--eval-every")
        {
            Description = "Validation every N steps (0 = at the start and end only).",
            DefaultValueFactory = _ => d.EvalEvery,
        };
        evalExamples = new("--eval-examples")
        {
            Description = "Validate on at most this many examples (0 = all).",
            DefaultValueFactory = _ => d.EvalMaxExamples,
        };
        checkpointEvery = new("--checkpoint-every")
        {
            Description = "Save a resumable checkpoint every N steps (0 = at the end only).",
            DefaultValueFactory = _ => d.CheckpointEvery,
        };
        keep = new("--keep-checkpoints")
        {
            Description = "Periodic checkpoints to keep (0: the newest while training, none once final/ is written).",
            DefaultValueFactory = _ => d.KeepCheckpoints,
        };
        seed = new("--seed") { Description = "Seed of initialisation, data order and dropout.", DefaultValueFactory = _ => d.Seed };
        gradientAccumulation = new("--gradient-accumulation-steps")
        {
            Description = "Hugging Face's way to set the batch: --batch-size becomes --micro-batch-size x this.",
        };
        logEvery = new("--log-every") { Description = "When output is not a terminal, print a line every N steps.", DefaultValueFactory = _ => 10 };
    }

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { lr, minLrRatio, warmup, weightDecay, noDecayNormsAndEmbeddings, shardOptimizer, overlapCommunication,
                     gradientCheckpointing, earlyStoppingPatience, beta1, beta2, eps, clip, epochs, maxSteps,
                     batchSize, microBatchSize, gradientAccumulation, precision, device, evalEvery, evalExamples, checkpointEvery, keep, seed,
                     logEvery })
            command.Options.Add(o);
    }

    public int LogEvery(ParseResult p) => p.GetValue(logEvery);

    /// <summary>The --device, checked to be there: read it before any work.</summary>
    public Device Device(ParseResult p) => DeviceOption.Read(p, device);

    /// <summary>True when the user gave --lr (rather than taking the default).</summary>
    public bool LearningRateGiven(ParseResult p) => p.GetResult(lr) is { Implicit: false };

    public TrainingOptions Read(ParseResult p)
    {
        var options = new TrainingOptions
        {
            LearningRate = p.GetValue(lr) ?? defaults.LearningRate, MinLrRatio = p.GetValue(minLrRatio), WarmupSteps = p.GetValue(warmup),
            WeightDecay = p.GetValue(weightDecay), DecayNormsAndEmbeddings = !p.GetValue(noDecayNormsAndEmbeddings),
            ShardOptimizer = p.GetValue(shardOptimizer),
            OverlapCommunication = p.GetValue(overlapCommunication),
            GradientCheckpointing = p.GetValue(gradientCheckpointing),
            EarlyStoppingPatience = p.GetValue(earlyStoppingPatience),
            Beta1 = p.GetValue(beta1), Beta2 = p.GetValue(beta2), Eps = p.GetValue(eps), ClipGradNorm = p.GetValue(clip),
            Epochs = p.GetValue(epochs), MaxSteps = p.GetValue(maxSteps), BatchSize = p.GetValue(batchSize),
            MicroBatchSize = p.GetValue(microBatchSize), Precision = p.GetValue(precision), EvalEvery = p.GetValue(evalEvery),
            EvalMaxExamples = p.GetValue(evalExamples), CheckpointEvery = p.GetValue(checkpointEvery),
            KeepCheckpoints = p.GetValue(keep), Seed = p.GetValue(seed),
        };
        if (p.GetValue(gradientAccumulation) is { } passes)
        {
            if (passes < 1) throw new SharpLMException($"--gradient-accumulation-steps must be at least 1, got {passes}");
            int micro = options.EffectiveMicroBatch;
            if (p.GetResult(batchSize) is { Implicit: false } && options.BatchSize != micro * passes)
                throw new SharpLMException($"--batch-size {options.BatchSize} disagrees with --micro-batch-size {micro} x " +
                                           $"--gradient-accumulation-steps {passes}; give two of the three");
            options = options with { BatchSize = micro * passes, MicroBatchSize = micro };
        }
        options.Validate();
        return options;
    }

    /// <summary>Records the values the run uses where they differ from what was parsed (the learning rate a method chose,
    /// the batch that --gradient-accumulation-steps made), so that its saved settings repeat it without conflict.</summary>
    public static void Record(RunSettings settings, TrainingOptions o)
    {
        settings.Set("--lr", o.LearningRate);
        settings.Set("--batch-size", o.BatchSize);
        settings.Set("--micro-batch-size", o.MicroBatchSize);
    }

    /// <summary>Prints the settings a run actually uses, so a log says how a model was made.</summary>
    /// <param name="rows">what one element of a batch is: "examples", or "packed rows" when examples are packed</param>
    public static void Print(TrainingOptions o, Device device, long totalSteps, int stepsPerEpoch, IEnumerable<(string, string)> extra,
        string rows = "examples")
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("setting", "value");
        foreach (var (k, v) in extra) table.AddRow(k, Markup.Escape(v));
        table.AddRow("steps", $"{totalSteps:N0} ({stepsPerEpoch:N0} per epoch)");
        var group = Distributed.Group;
        int perRank = o.BatchSize / group.Size, passes = (perRank + o.EffectiveMicroBatch - 1) / o.EffectiveMicroBatch;
        table.AddRow("batch", $"{o.BatchSize} {rows} per optimiser step" + (group.Size > 1 ? $", {perRank} on each of {group.Size} processes" : "") +
                              (passes == 1 ? " (one pass)" : $" = {passes} passes of {o.EffectiveMicroBatch} (gradients accumulated)"));
        if (group.Size > 1)
            table.AddRow("processes", $"{group.Size} MPI ranks, gradients summed" +
                                      (o.OverlapCommunication ? " while the backward pass runs" : "") +
                                      (o.ShardOptimizer ? ", optimiser state sharded (ZeRO-1)" : "") + ": " +
                                      string.Join(", ", Distributed.ProcessIds.Select((pid, rank) => $"rank {rank} = pid {pid}")));
        table.AddRow("optimiser", $"AdamW lr {o.LearningRate:G3}, betas ({o.Beta1}, {o.Beta2}), eps {o.Eps:G2}, " +
                                  $"weight decay {o.WeightDecay}{(o.DecayNormsAndEmbeddings ? "" : " (not on norms/embeddings)")}");
        table.AddRow("schedule", $"linear warm-up from {o.WarmupStartFactor} x lr over {Math.Min(o.WarmupSteps, totalSteps)} steps, " +
                                 $"cosine to {o.MinLrRatio} x lr");
        if (o.GradientCheckpointing) table.AddRow("memory", "gradient checkpointing: each layer recomputed in the backward pass");
        table.AddRow("clipping", o.ClipGradNorm > 0 ? $"gradient norm {o.ClipGradNorm}" : "off");
        table.AddRow("device", Runtime.ComputeDevice.Name(device));
        bool onCpu = device.type == TorchSharp.DeviceType.CPU;
        static string Measured() => $"bf16 matmul runs {PrecisionProbe.Measure().Speedup:F1}x as fast as fp32 here";
        table.AddRow("precision", o.Precision == Precision.Bf16 && PrecisionProbe.Bf16OnKernels(device)
            ? $"Bf16 (products of bf16-rounded operands on SharpLM's fp32 kernels: {Measured()})"
            : o.Precision != Precision.Auto ? o.Precision.ToString()
            : onCpu ? $"{PrecisionProbe.Measure().Choice} (auto: {Measured()})"
            : $"{PrecisionProbe.Resolve(o.Precision, device)} (auto: only the CPU is measured, fp32 elsewhere)");
        table.AddRow("seed", o.Seed.ToString());
        AnsiConsole.Write(table);
    }
}
