using SharpLM.Data;
using SharpLM.Hub;
using SharpLM.Training;
using Xunit;

namespace SharpLM.Tests.Training;

/// <summary>Early stopping: training that makes the validation loss worse stops after the patience runs out, saves a
/// checkpoint there, and keeps the best evaluation's checkpoint among the newest ones.</summary>
public sealed class EarlyStoppingTests
{
    // Training teaches "5 follows 1"; the validation text says "6 follows 1", so its loss only grows.
    static PretrainingDataset Rows(int token) =>
        PretrainingDataset.Build(Enumerable.Range(0, 16).Select(_ => Enumerable.Repeat(token, 9).ToArray()), 10, RowMode.Packed, 1, 2, 0);

    [Fact]
    public void AWorseningValidationLossStopsTheRunAndTheBestCheckpointStays()
    {
        using var dir = new TempDirectory();
        using var model = TestModels.Tiny(seed: 3);
        var options = new TrainingOptions
        {
            BatchSize = 4, MaxSteps = 40, WarmupSteps = 1, LearningRate = 1e-2, EvalEvery = 1, CheckpointEvery = 1, KeepCheckpoints = 1,
            EarlyStoppingPatience = 2,
        };
        using var trainer = new Trainer(model, Rows(5), Rows(6), options);
        var manager = new CheckpointManager(dir.Path, options.KeepCheckpoints, ModelFolder.CheckpointContent(null));
        trainer.SaveCheckpoint = manager.Save;
        var messages = new List<string>();
        trainer.AddObserver(new Messages(messages));
        trainer.Run();

        long stop = trainer.State.Step, best = trainer.State.BestValidStep;
        Assert.True(stop < 40, "the run did not stop early");
        Assert.Equal(best + 2, stop); // two evaluations without improvement after the best
        Assert.Contains(messages, m => m.StartsWith($"stopped early at step {stop} of 40"));
        var kept = Directory.GetDirectories(dir.Path).Select(Path.GetFileName).ToList();
        Assert.Equal(new[] { $"checkpoint-{best}", $"checkpoint-{stop}" }.Order(), kept.Order());
        Assert.Equal(2, TrainerState.Read(Path.Combine(dir.Path, $"checkpoint-{stop}", CheckpointManager.StateFile)).EvaluationsWithoutImprovement);
    }

    [Fact]
    public void ItNeedsPeriodicValidation()
    {
        using var model = TestModels.Tiny();
        var e = Assert.Throws<SharpLMException>(() => new Trainer(model, Rows(5), null, new TrainingOptions { EarlyStoppingPatience = 2 }));
        Assert.Contains("EarlyStoppingPatience needs validation data", e.Message);
    }

    sealed class Messages(List<string> messages) : ITrainingObserver
    {
        public void OnMessage(string message) => messages.Add(message);
    }
}
