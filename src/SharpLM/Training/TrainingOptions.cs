using System.Globalization;

namespace SharpLM.Training;

/// <summary>Matmul precision during training.</summary>
public enum Precision
{
    /// <summary>Everything in fp32.</summary>
    Fp32,

    /// <summary>bf16 matmuls over fp32 master weights; norms, softmax and loss stay fp32 (faster on CPUs
    /// with AVX-512 bf16 at twice the fp32 rate, or AMX). Where this CPU's bf16 matmul is slower than fp32, the products
    /// multiply operands rounded to bf16 on SharpLM's fp32 kernels instead (<see cref="PrecisionProbe.Bf16OnKernels"/>).</summary>
    Bf16,

    /// <summary>Bf16 where this machine's bf16 matmul is clearly faster than fp32, else Fp32 (see <see cref="PrecisionProbe"/>).</summary>
    Auto,
}

/// <summary>Optimiser, schedule and loop settings. Defaults are the tutorial's pretraining recipe.</summary>
public sealed record TrainingOptions
{
    public double LearningRate { get; init; } = 1e-3;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.99;
    public double Eps { get; init; } = 1e-8;
    public double WeightDecay { get; init; } = 0.1;

    /// <summary>The tutorial decays every parameter; false exempts norms, biases and embeddings, as most recipes do.</summary>
    public bool DecayNormsAndEmbeddings { get; init; } = true;

    public long WarmupSteps { get; init; } = 1000;
    public double WarmupStartFactor { get; init; } = 0.1;

    /// <summary>The cosine ends at LearningRate * MinLrRatio.</summary>
    public double MinLrRatio { get; init; }

    public int Epochs { get; init; } = 3;

    /// <summary>Stop after this many optimiser steps (and shape the schedule to it); 0 = epochs decide.</summary>
    public long MaxSteps { get; init; }

    /// <summary>Examples per optimiser step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Examples per forward/backward pass; gradients of BatchSize / MicroBatchSize passes are accumulated.
    /// 0 = BatchSize (no accumulation).</summary>
    public int MicroBatchSize { get; init; }

    /// <summary>Gradient-norm clipping threshold; 0 disables.</summary>
    public double ClipGradNorm { get; init; } = 1.0;

    public Precision Precision { get; init; } = Precision.Fp32;

    /// <summary>Validation loss every this many steps (0 = only at the end).</summary>
    public long EvalEvery { get; init; }

    /// <summary>Validate on at most this many examples (0 = all).</summary>
    public int EvalMaxExamples { get; init; }

    /// <summary>Checkpoint every this many steps (0 = only at the end).</summary>
    public long CheckpointEvery { get; init; }

    /// <summary>Periodic checkpoints to keep (oldest deleted first). 0 keeps the newest while the run goes on and none
    /// once it has finished (<see cref="CheckpointManager.FinishRun"/>): only the final model stays.</summary>
    public int KeepCheckpoints { get; init; } = 2;

    /// <summary>Stop once the validation loss has not improved for this many evaluations in a row (0 = never); the
    /// checkpoint of the best evaluation is kept beside the newest ones.</summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>NEFTune: noise on the input embeddings while training, scaled alpha / sqrt(seq_len * hidden); 0 = off
    /// (the paper uses 5). Evaluation and generation never see it.</summary>
    public double NeftuneAlpha { get; init; }

    /// <summary>Keep only each decoder layer's input during the forward pass and recompute the layer for the backward
    /// pass (<see cref="GradientCheckpointing"/>): less activation memory for about a third more compute, same gradients.</summary>
    public bool GradientCheckpointing { get; init; }

    /// <summary>In a group of processes, start summing each layer's gradients while the earlier layers still
    /// backpropagate (<see cref="OverlappedGradientSum"/>) instead of after the backward pass. Not with
    /// <see cref="GradientCheckpointing"/> or <see cref="ShardOptimizer"/>.</summary>
    public bool OverlapCommunication { get; init; }

    /// <summary>In a group of processes, each keeps AdamW's moments for its share of the parameters only (ZeRO-1, see
    /// <see cref="OptimizerShards"/>): less memory per process, the same steps.</summary>
    public bool ShardOptimizer { get; init; }

    /// <summary>Seed of weight initialisation, data order and dropout.</summary>
    public long Seed { get; init; } = 42;

    public int EffectiveMicroBatch => MicroBatchSize <= 0 ? BatchSize : Math.Min(MicroBatchSize, BatchSize);

    /// <summary>The settings that differ from <paramref name="saved"/> and change what training computes, as
    /// "Name before -> after". The run's length (MaxSteps, Epochs), validation and checkpointing may change freely.</summary>
    public List<string> ChangesFrom(TrainingOptions saved)
    {
        var changes = new List<string>();
        void Compare<T>(string name, T before, T after)
        {
            if (!EqualityComparer<T>.Default.Equals(before, after))
                changes.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {before} -> {after}"));
        }
        Compare(nameof(LearningRate), saved.LearningRate, LearningRate);
        Compare(nameof(Beta1), saved.Beta1, Beta1);
        Compare(nameof(Beta2), saved.Beta2, Beta2);
        Compare(nameof(Eps), saved.Eps, Eps);
        Compare(nameof(WeightDecay), saved.WeightDecay, WeightDecay);
        Compare(nameof(DecayNormsAndEmbeddings), saved.DecayNormsAndEmbeddings, DecayNormsAndEmbeddings);
        Compare(nameof(WarmupSteps), saved.WarmupSteps, WarmupSteps);
        Compare(nameof(WarmupStartFactor), saved.WarmupStartFactor, WarmupStartFactor);
        Compare(nameof(MinLrRatio), saved.MinLrRatio, MinLrRatio);
        Compare(nameof(BatchSize), saved.BatchSize, BatchSize);
        Compare(nameof(MicroBatchSize), saved.EffectiveMicroBatch, EffectiveMicroBatch);
        Compare(nameof(ClipGradNorm), saved.ClipGradNorm, ClipGradNorm);
        Compare(nameof(Precision), saved.Precision, Precision);
        Compare(nameof(Seed), saved.Seed, Seed);
        Compare(nameof(NeftuneAlpha), saved.NeftuneAlpha, NeftuneAlpha);
        return changes;
    }

    public void Validate()
    {
        void Require(bool ok, string message)
        {
            if (!ok) throw new SharpLMException(message);
        }
        Require(LearningRate > 0, $"learning rate must be positive, got {LearningRate}");
        Require(EarlyStoppingPatience >= 0, $"EarlyStoppingPatience must be 0 or more, got {EarlyStoppingPatience}");
        Require(NeftuneAlpha >= 0 && double.IsFinite(NeftuneAlpha), $"NeftuneAlpha must be a finite number >= 0, got {NeftuneAlpha}");
        Require(BatchSize >= 1, $"batch size must be at least 1, got {BatchSize}");
        Require(MicroBatchSize >= 0, $"micro-batch size must be >= 0, got {MicroBatchSize}");
        Require(Epochs >= 1 || MaxSteps > 0, "give at least one epoch or a number of steps");
        Require(WarmupSteps >= 0, $"warm-up steps must be >= 0, got {WarmupSteps}");
        Require(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, $"betas must be in [0, 1), got ({Beta1}, {Beta2})");
        Require(ClipGradNorm >= 0, $"gradient clipping must be >= 0, got {ClipGradNorm}");
        Require(KeepCheckpoints >= 0, $"checkpoints to keep must be >= 0, got {KeepCheckpoints}");
        Require(!OverlapCommunication || !(GradientCheckpointing || ShardOptimizer),
            "OverlapCommunication works with the plain backward pass and all-reduce only: not with GradientCheckpointing or ShardOptimizer");
    }
}
