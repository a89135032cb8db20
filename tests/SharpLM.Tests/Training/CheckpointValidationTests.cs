using System.Text.Json.Nodes;
using SharpLM.Data;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Training;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Training;

/// <summary>A damaged or inconsistent checkpoint is refused with the file and field at fault, before anything in the
/// trainer changes; damaged newer checkpoints are skipped by name; pruning and keep 0 never lose the good one.</summary>
public class CheckpointValidationTests : IDisposable
{
    readonly TempDirectory dir = new();
    readonly string run;

    public CheckpointValidationTests()
    {
        run = dir.File("run");
        using var model = TestModels.Tiny(seed: 9);
        using var trainer = new Trainer(model, Data(), null, Options);
        trainer.SaveCheckpoint = Manager(3).Save;
        trainer.Run(); // checkpoints 4, 8 and 12 (the end)
    }

    public void Dispose() => dir.Dispose();

    static PretrainingDataset Data()
    {
        var rng = new Random(11);
        var docs = Enumerable.Range(0, 12).Select(_ => Enumerable.Range(0, 30).Select(_ => rng.Next(4, 64)).ToArray());
        return PretrainingDataset.Build(docs, 8, RowMode.Packed, 1, 2, 0);
    }

    static TrainingOptions Options => new()
    {
        BatchSize = 4, MicroBatchSize = 2, Epochs = 1, WarmupSteps = 3, LearningRate = 5e-3, CheckpointEvery = 4, KeepCheckpoints = 3,
    };

    CheckpointManager Manager(int keep) => new(run, keep, ModelFolder.CheckpointContent(null));

    string Checkpoint(int step) => Path.Combine(run, $"checkpoint-{step}");

    /// <summary>Restoring the checkpoint at <paramref name="step"/> fails; the message is returned, and the trainer is untouched.</summary>
    string Refused(int step, TrainingOptions? options = null)
    {
        using var model = TestModels.Tiny(seed: 5);
        using var trainer = new Trainer(model, Data(), null, options ?? Options);
        var before = model.named_parameters().First().parameter.clone();
        var e = Assert.ThrowsAny<SharpLMException>(() => Manager(3).Restore(trainer, Checkpoint(step)));
        Assert.Equal(0, trainer.State.Step);
        Assert.Empty(trainer.Optimizer.StateTensors());
        Assert.True(before.Equals(model.named_parameters().First().parameter), "the weights were loaded from a refused checkpoint");
        return e.Message;
    }

    void EditState(int step, Action<JsonNode> edit)
    {
        var path = Path.Combine(Checkpoint(step), CheckpointManager.StateFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    [Theory]
    [InlineData("global_step", "-5", "global_step is -5")]
    [InlineData("global_step", "1000000000000", "global_step is 1000000000000")]
    [InlineData("total_steps", "0", "total_steps is 0")]
    [InlineData("epoch", "-1", "epoch is -1")]
    [InlineData("step_in_epoch", "1000000000", "step_in_epoch is 1000000000")]
    [InlineData("epoch", "3", "epoch/step_in_epoch")]
    [InlineData("global_step", "\"12\"", "field \"global_step\" is the string \"12\", expected an integer")]
    [InlineData("epoch", "0.5", "field \"epoch\" is the number 0.5, expected an integer")]
    [InlineData("tokens_seen", "-1", "tokens_seen is -1")]
    public void ATrainerStateWithImpossibleValuesIsRefusedByFileAndField(string field, string value, string expected)
    {
        EditState(12, json => json[field] = JsonNode.Parse(value));
        var message = Refused(12);
        Assert.Contains(CheckpointManager.StateFile, message);
        Assert.Contains(expected, message);
    }

    [Fact]
    public void ATrainerStateMissingAFieldOrNotUtf8IsRefused()
    {
        EditState(12, json => json.AsObject().Remove("global_step"));
        Assert.Contains("global_step", Refused(12));
        var path = Path.Combine(Checkpoint(8), CheckpointManager.StateFile);
        File.WriteAllBytes(path, [.. File.ReadAllBytes(path)[..^2], 0xC3, 0x28, (byte)'}']);
        Assert.Contains("invalid UTF-8", Refused(8));
    }

    [Fact]
    public void AnIncompleteOrMisshapenOptimizerStateIsRefused()
    {
        Dictionary<string, Tensor> Moments(int step)
        {
            using var file = SafetensorsFile.Open(Path.Combine(Checkpoint(step), CheckpointManager.OptimizerFile));
            return file.Entries.ToDictionary(e => e.Name, e => file.Load(e.Name));
        }
        void Write(int step, IEnumerable<KeyValuePair<string, Tensor>> tensors, string stepText) =>
            SafetensorsWriter.Write(Path.Combine(Checkpoint(step), CheckpointManager.OptimizerFile), tensors, SafetensorsDType.F32,
                new Dictionary<string, string> { ["step"] = stepText });

        Write(12, [], "12");
        Assert.Contains("no optimizer moments after 12 steps", Refused(12));

        var all = Moments(8);
        var names = all.Keys.Where(k => k.StartsWith("exp_avg.")).Select(k => k["exp_avg.".Length..]).Order().ToList();
        var half = names.Take(names.Count / 2).ToHashSet();
        Write(8, all.Where(kv => half.Contains(kv.Key[(kv.Key.IndexOf('.') + 1)..])), "8");
        Assert.Contains($"missing for {names.Count - half.Count} of {names.Count} trainable parameters", Refused(8));

        var first = names[0];
        Write(4, all.Select(kv => kv.Key == $"exp_avg.{first}" || kv.Key == $"exp_avg_sq.{first}" ? new(kv.Key, zeros(3, 5)) : kv), "4");
        Assert.Contains($"exp_avg.{first} has shape [3, 5]", Refused(4));

        Write(4, all, "7");
        Assert.Contains("step 7 does not match trainer_state.json's global_step 4", Refused(4));
    }

    [Fact]
    public void ARandomStateOfTheWrongSizeOrTypeIsRefused()
    {
        var path = Path.Combine(Checkpoint(12), CheckpointManager.RngFile);
        SafetensorsWriter.Write(path, [new("torch", zeros(10, dtype: ScalarType.Byte))]);
        Assert.Contains("rng_state.safetensors: \"torch\" is U8 [10]", Refused(12));
        using var state = get_rng_state();
        SafetensorsWriter.Write(path, [new("torch", zeros(state.numel(), dtype: ScalarType.Float32))]);
        Assert.Contains("is F32", Refused(12));
    }

    [Fact]
    public void ADamagedNewestCheckpointIsSkippedByNameAndTheGoodOneIsNeverPruned()
    {
        File.Delete(Path.Combine(Checkpoint(12), CheckpointManager.StateFile));
        EditState(8, json => json["global_step"] = -5);
        var point = CheckpointManager.FindResumePoint(run, out var skipped);
        Assert.Equal(Checkpoint(4), point!.Checkpoint);
        Assert.Null(point.Previous);
        Assert.Equal([Checkpoint(12), Checkpoint(8)], skipped.Select(s => s.Checkpoint));
        Assert.Contains("trainer_state.json is missing", skipped[0].Reason);
        Assert.Contains("global_step is -5", skipped[1].Reason);

        // Resume from 4 keeping one checkpoint: saving 6 must not delete 6 (or count the damaged 8 and 12 as newer).
        using var model = TestModels.Tiny(seed: 5);
        using var trainer = new Trainer(model, Data(), null, Options with { CheckpointEvery = 2 });
        var manager = Manager(1);
        manager.Restore(trainer, point.Checkpoint);
        trainer.SaveCheckpoint = manager.Save;
        trainer.AddObserver(new StopAt(7));
        Assert.Throws<OperationCanceledException>(() => trainer.Run());
        Assert.False(Directory.Exists(Checkpoint(4)));
        Assert.Equal(Checkpoint(6), CheckpointManager.FindResumePoint(run, out _)!.Checkpoint);
    }

    [Fact]
    public void KeepZeroKeepsTheNewestCheckpointWhileRunningAndNoneOnceFinished()
    {
        using var dir2 = new TempDirectory();
        using var model = TestModels.Tiny(seed: 5);
        using var trainer = new Trainer(model, Data(), null, Options with { KeepCheckpoints = 0 });
        var manager = new CheckpointManager(dir2.Path, 0, ModelFolder.CheckpointContent(null));
        trainer.SaveCheckpoint = manager.Save;
        trainer.AddObserver(new StopAt(9));
        Assert.Throws<OperationCanceledException>(() => trainer.Run());
        Assert.Equal(["checkpoint-8"], Directory.GetDirectories(dir2.Path).Select(Path.GetFileName));
        manager.FinishRun();
        Assert.Empty(Directory.GetDirectories(dir2.Path));
    }

    [Fact]
    public void AFinishedRunCanBeExtendedAndTheScheduleTakesTheNewLength()
    {
        using var model = TestModels.Tiny(seed: 5);
        var longer = Options with { MaxSteps = 16 };
        using var trainer = new Trainer(model, Data(), null, longer);
        Manager(3).Restore(trainer, Checkpoint(12));
        Assert.Equal(16, trainer.State.TotalSteps);
        var steps = new List<StepMetrics>();
        trainer.AddObserver(new Steps(steps));
        trainer.Run();
        Assert.Equal([13L, 14, 15, 16], steps.Select(s => s.Step));
        Assert.Equal(trainer.Schedule.At(12), steps[0].LearningRate);
        Assert.Equal(16, trainer.Schedule.TotalSteps);

        // A run shorter than the checkpoint's step cannot continue from it.
        Assert.Contains("past the end of a run of 8 steps", Refused(12, Options with { MaxSteps = 8 }));
    }

    [Fact]
    public void OptionsThatChangeTheResultAreNamedUnlessAccepted()
    {
        var changed = Options with { LearningRate = 1e-2, MicroBatchSize = 4, CheckpointEvery = 1, KeepCheckpoints = 1 };
        var message = Refused(8, changed);
        Assert.Contains("trainer_state.json: these training options differ", message);
        Assert.Contains("LearningRate 0.005 -> 0.01", message);
        Assert.Contains("MicroBatchSize 2 -> 4", message);
        Assert.DoesNotContain("Checkpoint", message.Replace("checkpoint's", ""));

        using var model = TestModels.Tiny(seed: 5);
        using var trainer = new Trainer(model, Data(), null, changed);
        Manager(3).Restore(trainer, Checkpoint(8), acceptChangedOptions: true);
        Assert.Equal(8, trainer.State.Step);
        Assert.Equal(1e-2, trainer.State.Options.LearningRate);
    }

    [Fact]
    public void TheMetricsLogKeepsWhatItCannotReadAndDropsOnlyLaterSteps()
    {
        var log = Path.Combine(run, MetricsLog.FileName);
        string[] lines =
        [
            .. Enumerable.Range(1, 12).Select(i => $"{{\"type\":\"train\",\"step\":{i}}}"),
            "{\"type\":\"train\",\"step\":\"13\"}", "{\"type\":\"train\",\"step\":12.5}", "not json", "[1]",
        ];
        File.WriteAllLines(log, lines);
        using (new MetricsLog(run, 8)) { }
        Assert.Equal([.. lines[..8], .. lines[12..]], File.ReadAllLines(log));
        Assert.Contains("from step -5", Assert.Throws<SharpLMException>(() => new MetricsLog(run, -5)).Message);
        Assert.Equal(8 + 4, File.ReadAllLines(log).Length);
    }

    sealed class StopAt(long step) : ITrainingObserver
    {
        public void OnStep(StepMetrics m)
        {
            if (m.Step == step) throw new OperationCanceledException();
        }
    }

    sealed class Steps(List<StepMetrics> steps) : ITrainingObserver
    {
        public void OnStep(StepMetrics m) => steps.Add(m);
    }
}
