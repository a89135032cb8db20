using System.Diagnostics;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using SharpLM.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// The training loop shared by pretraining and fine-tuning: shuffled epochs, gradient accumulation with the loss
/// normalised by the target tokens of the whole step (so accumulation equals the large batch), gradient clipping,
/// AdamW on a warm-up + cosine schedule, periodic validation and checkpoints, and exact resume.
/// </summary>
public sealed class Trainer : IDisposable
{
    readonly LlamaForCausalLM model;
    readonly ITrainingData train;
    readonly ITrainingData? valid;
    readonly ITrainingObjective objective;
    readonly List<ITrainingObserver> observers = [];
    readonly List<AdamW.Entry> trainable;
    readonly OptimizerShards? shards;
    readonly OverlappedGradientSum? overlapped;
    Dictionary<string, Tensor>? gatheredState;
    int[]? epochOrder;
    int epochOrderFor = -1;

    /// <summary>Trains the model's trainable parameters (those that require grad: all of them, unless an adapter or a
    /// freeze left only some).</summary>
    /// <param name="group">the processes training together: each takes its slice of every batch and the gradients are
    /// summed across them, so N ranks compute the steps one process would; null for one process</param>
    /// <param name="objective">what is minimised; null for next-token cross-entropy (<see cref="LanguageModelObjective"/>)</param>
    public Trainer(LlamaForCausalLM model, ITrainingData train, ITrainingData? valid, TrainingOptions options, ProcessGroup? group = null,
        ITrainingObjective? objective = null)
    {
        options.Validate();
        options = options with { Precision = PrecisionProbe.Resolve(options.Precision, model.Device) };
        if (train.Count == 0) throw new SharpLMException("the training data is empty");
        this.model = model;
        this.train = train;
        this.valid = valid;
        this.objective = objective ?? LanguageModelObjective.Instance;
        Options = options;
        Group = group ?? ProcessGroup.Single;
        trainable = TrainableEntries(model, options).ToList();
        if (trainable.Count == 0) throw new SharpLMException("there is nothing to train: no parameter is trainable");
        shards = options.ShardOptimizer && Group.Size > 1 ? new OptimizerShards(trainable, Group) : null;
        overlapped = options.OverlapCommunication && Group.Size > 1
            ? new OverlappedGradientSum(Group, trainable, model.model.layers.Count) : null;
        Optimizer = new AdamW(shards?.Owned ?? trainable, new AdamW.Options(options.Beta1, options.Beta2, options.Eps, options.WeightDecay));
        State = new TrainerState { Options = options, TotalSteps = ComputeTotalSteps(), StepsPerEpoch = StepsPerEpoch };
        Schedule = new LearningRateSchedule(options.LearningRate, Math.Min(options.WarmupSteps, State.TotalSteps),
            State.TotalSteps, options.WarmupStartFactor, options.LearningRate * options.MinLrRatio);
        CheckDivisible(train.Count);
        if (options.EarlyStoppingPatience > 0 && (valid is null || options.EvalEvery <= 0))
            throw new SharpLMException("EarlyStoppingPatience needs validation data and periodic evaluation (EvalEvery above 0)");
        // Recomputing a layer replays its dropout from libtorch's CPU random state; a GPU's is out of TorchSharp's reach.
        if (options.GradientCheckpointing && model.Device.type != DeviceType.CPU && Adapters.Lora.Adapters(model).Any(a => a.Adapter.DropoutRate > 0))
            throw new SharpLMException("TrainingOptions.GradientCheckpointing with LoRA dropout (LoraOptions.Dropout) runs on the CPU only: " +
                                       "off the CPU, set the dropout to 0 or train without gradient checkpointing");
        PrecisionProbe.Apply(model, options.Precision);
        model.model.NeftuneAlpha = options.NeftuneAlpha;
    }

    public TrainingOptions Options { get; }
    public ProcessGroup Group { get; }

    /// <summary>Time spent exchanging gradients and (with sharded optimiser state) updated weights across the group, and
    /// the bytes each rank sent (as a ring algorithm sends them), since the trainer was made.</summary>
    public (TimeSpan Time, long Bytes) Communication { get; private set; }

    public TrainerState State { get; private set; }

    /// <summary>The optimiser; with <see cref="TrainingOptions.ShardOptimizer"/> in a group, over this rank's share only.</summary>
    public AdamW Optimizer { get; }

    /// <summary>Every trainable parameter's optimiser moments, as a checkpoint saves them (gathered from all ranks when
    /// the state is sharded).</summary>
    public IReadOnlyDictionary<string, Tensor> OptimizerState => gatheredState ?? Optimizer.StateTensors();

    public LearningRateSchedule Schedule { get; }
    public LlamaForCausalLM Model => model;
    public int StepsPerEpoch => (train.Count + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>Called after every periodic and the final checkpoint-worthy moment, on the group's main rank only (the
    /// checkpoint is whole there); returns the folder written.</summary>
    public Func<Trainer, string>? SaveCheckpoint { get; set; }

    public void AddObserver(ITrainingObserver observer) => observers.Add(observer);

    /// <summary>Passes a sample of the model's writing to the observers, beside the step's metrics.</summary>
    public void ReportSample(SampleMetrics sample)
    {
        foreach (var o in observers) o.OnSample(sample);
    }

    /// <summary>Every parameter, decayed unless it is a norm or embedding and the options exempt those.</summary>
    static IEnumerable<AdamW.Entry> TrainableEntries(LlamaForCausalLM model, TrainingOptions options) =>
        model.named_parameters()
            .Where(p => p.parameter.requires_grad)
            .Select(p => new AdamW.Entry(p.name, p.parameter,
                options.DecayNormsAndEmbeddings || !(p.name.EndsWith("norm.weight") || p.name.EndsWith(".bias") || p.name.Contains("embed_tokens"))));

    long ComputeTotalSteps() => Options.MaxSteps > 0 ? Options.MaxSteps : (long)Options.Epochs * StepsPerEpoch;

    /// <summary>Continues from a saved state: position, step and optimiser moments (the weights are loaded by the caller).
    /// The run's length comes from these options, not the checkpoint: a longer (or shorter) run follows the schedule of
    /// its new length from the checkpoint's step on, so a finished run can be extended. Nothing changes unless the state,
    /// moments and RNG all fit this run. The RNG is libtorch's global generator (dropout draws from it), so resuming sets
    /// it for the whole process.</summary>
    /// <param name="source">the checkpoint folder, named in errors</param>
    /// <param name="acceptChangedOptions">continue even when options that change the result differ from the state's
    /// (<see cref="TrainingOptions.ChangesFrom"/>); otherwise that throws <see cref="TrainingOptionsChangedException"/></param>
    public void Restore(TrainerState state, IReadOnlyDictionary<string, Tensor> optimizerState, Tensor? rngState, string source,
        bool acceptChangedOptions = false)
    {
        var statePath = Path.Combine(source, CheckpointManager.StateFile);
        state.Validate(statePath);
        var changes = Options.ChangesFrom(state.Options);
        if (changes.Count > 0 && !acceptChangedOptions) throw new TrainingOptionsChangedException(statePath, changes);
        if (state.Step > State.TotalSteps)
            throw new SharpLMException($"{statePath}: the checkpoint is at global_step {state.Step}, " +
                                       $"past the end of a run of {State.TotalSteps} steps " +
                                       "(MaxSteps or Epochs); give a run at least that long");
        if (rngState is not null)
        {
            using var current = get_rng_state();
            if (rngState.dtype != current.dtype || rngState.numel() != current.numel())
                throw new SharpLMException($"{Path.Combine(source, CheckpointManager.RngFile)}: the random generator state is {rngState.dtype} x " +
                                           $"{rngState.numel()}, expected {current.dtype} x {current.numel()}");
        }
        var mine = Optimizer.Entries.Select(e => e.Name).ToHashSet();
        var ownState = shards is null ? optimizerState
            : optimizerState.Where(kv => mine.Contains(kv.Key[(kv.Key.IndexOf('.') + 1)..])).ToDictionary();
        Optimizer.LoadState(state.Step, ownState, Path.Combine(source, CheckpointManager.OptimizerFile));
        if (rngState is not null) set_rng_state(rngState);
        state.Options = Options;
        state.TotalSteps = State.TotalSteps;
        // When the data changed (and the caller accepted it), the epoch position no longer maps to the step: stop checking it.
        bool positionFits = state.StepInEpoch <= StepsPerEpoch && (long)state.Epoch * StepsPerEpoch + state.StepInEpoch == state.Step;
        state.StepsPerEpoch = positionFits ? StepsPerEpoch : 0;
        State = state;
    }

    /// <summary>Each rank takes an equal slice of every batch; the last batch of an epoch may be shorter but must
    /// still give every rank an example, when the run gets there.</summary>
    void CheckDivisible(int examples)
    {
        if (Group.Size == 1) return;
        if (Options.BatchSize % Group.Size != 0)
            throw new SharpLMException($"BatchSize {Options.BatchSize} does not divide among {Group.Size} processes: use a multiple of {Group.Size}");
        int last = examples % Options.BatchSize;
        if (last != 0 && last < Group.Size && State.TotalSteps >= StepsPerEpoch) // the run reaches that batch
            throw new SharpLMException($"the last batch of each epoch has {last} example(s) " +
                                       $"({examples} examples in batches of {Options.BatchSize}), " +
                                       $"fewer than the {Group.Size} processes: change BatchSize or MaxSteps");
    }

    /// <summary>Runs until the last step (or until cancelled, after saving a checkpoint); leaves the model in
    /// evaluation mode (no dropout, no embedding noise).</summary>
    public void Run(CancellationToken cancel = default)
    {
        try
        {
            RunSteps(cancel);
        }
        finally
        {
            model.eval();
        }
    }

    void RunSteps(CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        TensorAllReduce.RequireSame(Group, trainable.Select(e => e.Parameter), "at the start");
        model.train();
        while (State.Step < State.TotalSteps)
        {
            if (State.StepInEpoch >= StepsPerEpoch) { State.Epoch++; State.StepInEpoch = 0; }
            var order = EpochOrder(State.Epoch);
            int start = State.StepInEpoch * Options.BatchSize;
            var indices = order.AsSpan(start, Math.Min(Options.BatchSize, order.Length - start)).ToArray();

            var stepClock = Stopwatch.StartNew();
            var (loss, gradNorm, lr, tokens, targets, stepMetrics) = TrainStep(indices);
            State.Step++;
            State.StepInEpoch++;
            State.TokensSeen += tokens;
            State.LastLoss = loss;
            var seconds = stepClock.Elapsed.TotalSeconds;
            var metrics = new StepMetrics(State.Step, State.TotalSteps, State.Epoch, loss, lr, gradNorm, tokens, targets,
                seconds, tokens / Math.Max(seconds, 1e-9), clock.Elapsed.TotalSeconds, stepMetrics);
            foreach (var o in observers) o.OnStep(metrics);

            bool last = State.Step == State.TotalSteps;
            if (valid is not null && (last || (Options.EvalEvery > 0 && State.Step % Options.EvalEvery == 0)))
                Evaluate();
            bool stopEarly = Options.EarlyStoppingPatience > 0 && State.EvaluationsWithoutImprovement >= Options.EarlyStoppingPatience;
            bool checkpoint = last || stopEarly || cancel.IsCancellationRequested ||
                              (Options.CheckpointEvery > 0 && State.Step % Options.CheckpointEvery == 0);
            if (checkpoint)
            {
                TensorAllReduce.RequireSame(Group, trainable.Select(e => e.Parameter), $"at step {State.Step}");
                gatheredState = shards?.GatherState(Optimizer); // every rank takes part; the main one saves
                try
                {
                    if (SaveCheckpoint is not null && Group.IsMain)
                    {
                        var path = SaveCheckpoint(this);
                        foreach (var o in observers) o.OnCheckpoint(State.Step, path);
                    }
                }
                finally
                {
                    foreach (var t in gatheredState?.Values.AsEnumerable() ?? []) t.Dispose();
                    gatheredState = null;
                }
            }
            if (stopEarly && !last)
            {
                foreach (var o in observers)
                    o.OnMessage($"stopped early at step {State.Step} of {State.TotalSteps}: the validation loss has not improved for " +
                                $"{Options.EarlyStoppingPatience} evaluations (best {State.BestValidLoss:F4} at step {State.BestValidStep})");
                return;
            }
            if (cancel.IsCancellationRequested)
            {
                foreach (var o in observers)
                    o.OnMessage($"stopped at step {State.Step} of {State.TotalSteps}; the checkpoint just saved resumes the run");
                return;
            }
        }
    }

    /// <summary>One optimiser update over the examples at <paramref name="indices"/> (the whole batch: in a group,
    /// this rank trains on its slice and the gradients of all slices are summed). Returns the step's mean loss and
    /// metrics (per unit of the objective), the gradient norm before clipping, the learning rate, and the step's tokens
    /// (padding included) and target tokens.</summary>
    public (double Loss, double GradNorm, double Lr, long Tokens, long Targets, IReadOnlyDictionary<string, double> Metrics) TrainStep(
        IReadOnlyList<int> indices)
    {
        var micro = Options.EffectiveMicroBatch;
        var batches = new List<TrainingBatch>();
        try
        {
            int from = indices.Count * Group.Rank / Group.Size, to = indices.Count * (Group.Rank + 1) / Group.Size;
            var local = indices.Skip(from).Take(to - from).ToArray();
            for (int i = 0; i < local.Length; i += micro)
                batches.Add(train.Collate(local.Skip(i).Take(micro).ToArray()).To(model.Device));
            Span<double> counts = [batches.Sum(objective.Units), batches.Sum(b => b.Tokens), batches.Sum(b => b.TargetTokens)];
            Group.AllReduceSum(counts); // every slice's loss is divided by the whole batch's units
            long units = (long)counts[0], tokens = (long)counts[1], targets = (long)counts[2];
            if (targets == 0)
                throw new SharpLMException($"step {State.Step + 1}: the batch has no target tokens to train on (is everything masked?)");

            var sums = new double[1 + objective.MetricNames.Count]; // the loss, then the metrics
            var metricSums = new double[objective.MetricNames.Count];
            bool summed = false;
            foreach (var batch in batches)
            {
                using var scope = NewDisposeScope();
                var lossOfHidden = objective.Loss(model, batch, metricSums);
                if (overlapped is not null && batch == batches[^1])
                {
                    var (batchLoss, bytes, waited) = overlapped.Backward(model, batch, units, lossOfHidden);
                    Communication = (Communication.Time + waited, Communication.Bytes + bytes);
                    sums[0] += batchLoss;
                    summed = true;
                    continue;
                }
                if (Options.GradientCheckpointing)
                {
                    sums[0] += GradientCheckpointing.Backward(model, batch, units, lossOfHidden);
                    continue;
                }
                var sum = lossOfHidden(model.model.forward(batch.InputIds, batch.ForwardOptions));
                (sum / units).backward();
                sums[0] += sum.item<float>();
            }
            metricSums.CopyTo(sums, 1);
            Group.AllReduceSum(sums);
            double loss = sums[0] / units;
            var metrics = objective.MetricNames.Select((name, i) => (name, sums[1 + i] / units)).ToDictionary();
            if (!double.IsFinite(loss))
            {
                ZeroGrad();
                throw new TrainingDivergedException(State.Step, $"the loss is {loss}");
            }
            var (gradNorm, clipFactor) = SumGradients(summed);
            if (!double.IsFinite(gradNorm))
            {
                ZeroGrad();
                throw new TrainingDivergedException(State.Step, $"the gradient norm is {gradNorm}");
            }
            double lr = Schedule.At(State.Step);
            Optimizer.Update(lr, clipFactor);
            if (shards is not null) Communicated(shards.ShareUpdatedWeights);
            ZeroGrad();
            return (loss, gradNorm, lr, tokens, targets, metrics);
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }

    /// <summary>Sums the gradients over the ranks (with sharded optimiser state, each rank gets its own parameters'
    /// sums only; unless <paramref name="summed"/> already) and returns their norm and the factor that clips them to
    /// <see cref="TrainingOptions.ClipGradNorm"/>, which the update applies (<see cref="GradientClipping"/>).</summary>
    (double Norm, float Factor) SumGradients(bool summed)
    {
        double maxNorm = Options.ClipGradNorm > 0 ? Options.ClipGradNorm : double.PositiveInfinity;
        if (shards is not null)
        {
            Communicated(shards.ReduceScatterGradients);
            double shardedNorm = shards.GradientNorm();
            return (shardedNorm, GradientClipping.Factor(shardedNorm, maxNorm));
        }
        var parameters = trainable.Select(e => e.Parameter).ToList();
        if (Group.Size > 1 && !summed)
            Communicated(() =>
            {
                var gradients = parameters
                    .Select(p => p.grad ?? throw new SharpLMException($"rank {Group.Rank}: a trainable parameter got no gradient")).ToList();
                TensorAllReduce.Sum(Group, gradients);
                return 2 * Group.RingShare(gradients.Sum(g => g.numel()) * sizeof(float));
            });
        double norm = GradientClipping.Norm(parameters);
        return (norm, GradientClipping.Factor(norm, maxNorm));
    }

    /// <summary>Runs one exchange between the ranks, adding its time and the bytes it reports to <see cref="Communication"/>.</summary>
    void Communicated(Func<long> exchange)
    {
        var clock = Stopwatch.StartNew();
        long bytes = exchange();
        Communication = (Communication.Time + clock.Elapsed, Communication.Bytes + bytes);
    }

    /// <summary>Drops the gradients (<see cref="AdamW.ZeroGrad"/>).</summary>
    void ZeroGrad()
    {
        foreach (var e in trainable) e.Parameter.grad = null;
    }

    /// <summary>The objective's loss and metrics on the validation data; tracks the best loss for early stopping.</summary>
    public EvalMetrics Evaluate()
    {
        if (valid is null) throw new InvalidOperationException("no validation data");
        var report = ObjectiveEvaluator.Evaluate(model, objective, valid, Options.EffectiveMicroBatch, Options.EvalMaxExamples, Group);
        State.LastValidLoss = report.MeanLoss;
        if (State.BestValidLoss is not { } best || report.MeanLoss < best)
            (State.BestValidLoss, State.BestValidStep, State.EvaluationsWithoutImprovement) = (report.MeanLoss, State.Step, 0);
        else
            State.EvaluationsWithoutImprovement++;
        var metrics = new EvalMetrics(State.Step, report.MeanLoss, objective.HasPerplexity ? Math.Exp(report.MeanLoss) : null, report.Units,
            objective.Unit, report.Metrics);
        foreach (var o in observers) o.OnEvaluation(metrics);
        return metrics;
    }

    /// <summary>The shuffled example order of an epoch: a pure function of (seed, epoch), so resume sees the same order.</summary>
    int[] EpochOrder(int epoch)
    {
        if (epochOrderFor == epoch && epochOrder is not null) return epochOrder;
        var order = Enumerable.Range(0, train.Count).ToArray();
        new Random(unchecked((int)(Options.Seed * 1_000_003 + epoch))).Shuffle(order);
        epochOrder = order;
        epochOrderFor = epoch;
        return order;
    }

    public void Dispose() => Optimizer.Dispose();
}
