using SharpLM.Adapters;
using SharpLM.Training;
using Xunit;

namespace SharpLM.Tests.Training;

/// <summary>DPO in the trainer: the first step's loss is ln 2 (the policy is its reference), the loss falls and the reward
/// accuracy rises, and the steps are the same with precomputed reference log-probabilities, with gradient accumulation
/// and with gradient checkpointing; validation reports the loss and TRL's metrics per pair.</summary>
public sealed class DpoTrainingTests
{
    sealed record Run(List<double> Losses, List<IReadOnlyDictionary<string, double>> Metrics, EvalMetrics Validation);

    static Run Train(bool precompute, int microBatch, bool checkpointing)
    {
        using var model = TestModels.Tiny(seed: 1);
        Lora.Apply(model, new LoraOptions { Rank = 4 }, seed: 5);
        var (train, valid) = (DpoObjectiveTests.Pairs(count: 4), DpoObjectiveTests.Pairs(count: 3));
        using var reference = ReferenceModel.AdaptersOff(model);
        if (precompute)
            foreach (var data in new[] { train, valid }) reference.Precompute(data, batchSize: 2);
        var objective = new DpoObjective(new PreferenceOptions { Beta = 0.5 }, precompute ? null : reference);
        using var trainer = new Trainer(model, train, valid, new TrainingOptions
        {
            BatchSize = 4, MicroBatchSize = microBatch, MaxSteps = 4, WarmupSteps = 0, LearningRate = 2e-2, WeightDecay = 0,
            GradientCheckpointing = checkpointing,
        }, objective: objective);
        var run = new Run([], [], null!);
        for (int step = 0; step < 4; step++)
        {
            var result = trainer.TrainStep([0, 1, 2, 3]);
            run.Losses.Add(result.Loss);
            run.Metrics.Add(result.Metrics);
        }
        return run with { Validation = trainer.Evaluate() };
    }

    [Fact]
    public void StepsAgreeWhateverTheReferenceAccumulationOrCheckpointing()
    {
        var plain = Train(precompute: false, microBatch: 0, checkpointing: false);
        Assert.Equal(Math.Log(2), plain.Losses[0], 1e-6);
        Assert.Equal(0, plain.Metrics[0]["rewards/margins"], 1e-6);
        Assert.Equal(0, plain.Metrics[0]["rewards/accuracies"]);
        Assert.True(plain.Losses[^1] < plain.Losses[0] - 0.01, $"the loss does not fall: {string.Join(", ", plain.Losses)}");
        Assert.True(plain.Metrics[^1]["rewards/accuracies"] > 0.5, $"accuracy {plain.Metrics[^1]["rewards/accuracies"]}");
        Assert.Equal("pairs", plain.Validation.Unit);
        Assert.Equal(3, plain.Validation.Units);
        Assert.Null(plain.Validation.Perplexity);
        Assert.Equal(DpoObjective.Metrics, plain.Validation.Metrics!.Keys);

        foreach (var other in new[] { Train(true, 0, false), Train(false, 1, false), Train(false, 0, true) })
        {
            Assert.All(plain.Losses.Zip(other.Losses), p => Assert.Equal(p.First, p.Second, 1e-5));
            // At the first step every reward is 0 up to rounding, which padding to other lengths changes: accuracy counts
            // those ties either way, so it is compared from the second step on.
            Assert.All(plain.Metrics.Zip(other.Metrics).Select((p, step) => (p.First, p.Second, step)), p =>
                Assert.All(p.First, m => Assert.True(p.step == 0 && m.Key == "rewards/accuracies" || Math.Abs(m.Value - p.Second[m.Key]) < 1e-4,
                    $"step {p.step + 1}: {m.Key} {p.Second[m.Key]} instead of {m.Value}")));
            Assert.Equal(plain.Validation.Loss, other.Validation.Loss, 1e-5);
        }
    }
}
