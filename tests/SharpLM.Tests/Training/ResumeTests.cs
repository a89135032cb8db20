using SharpLM.Data;
using SharpLM.Hub;
using SharpLM.Training;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Training;

public class ResumeTests
{
    static PretrainingDataset Data()
    {
        var rng = new Random(11);
        var docs = Enumerable.Range(0, 12).Select(_ => Enumerable.Range(0, 30).Select(_ => rng.Next(4, 64)).ToArray());
        return PretrainingDataset.Build(docs, 8, RowMode.Packed, 1, 2, 0);
    }

    static TrainingOptions Options => new()
    {
        BatchSize = 4, MicroBatchSize = 2, Epochs = 2, WarmupSteps = 3, LearningRate = 5e-3, CheckpointEvery = 4, KeepCheckpoints = 2,
    };

    [Fact]
    public void KilledAndResumedRunEqualsAnUninterruptedRun()
    {
        var data = Data();
        using var dir = new TempDirectory();

        // Uninterrupted.
        var straight = new List<double>();
        using (var model = TestModels.Tiny(seed: 9))
        using (var trainer = new Trainer(model, data, null, Options))
        {
            trainer.AddObserver(new Recorder(straight));
            trainer.Run();
        }

        // "Killed" after 6 steps: the last checkpoint is at step 4 (checkpoint every 4).
        var runFolder = dir.File("run");
        var firstPart = new List<double>();
        using (var model = TestModels.Tiny(seed: 9))
        using (var trainer = new Trainer(model, data, null, Options))
        {
            var checkpoints = new CheckpointManager(runFolder, Options.KeepCheckpoints, ModelFolder.CheckpointContent(null));
            trainer.SaveCheckpoint = checkpoints.Save;
            trainer.AddObserver(new Recorder(firstPart, stopAfter: 6));
            Assert.Throws<KilledException>(() => trainer.Run());
        }
        var latest = CheckpointManager.Latest(runFolder);
        Assert.EndsWith("checkpoint-4", latest);

        // Resume in a fresh model whose weights start different.
        var resumed = new List<double>();
        using (var model = TestModels.Tiny(seed: 1234))
        using (var trainer = new Trainer(model, data, null, Options))
        {
            new CheckpointManager(runFolder, 2, ModelFolder.CheckpointContent(null)).Restore(trainer, latest!);
            Assert.Equal(4, trainer.State.Step);
            trainer.AddObserver(new Recorder(resumed));
            trainer.Run();
        }
        Assert.Equal(straight.Count - 4, resumed.Count);
        Assert.Equal(straight.Take(6), firstPart); // same run up to the kill
        Assert.Equal(straight.Skip(4), resumed);   // bit-for-bit the same losses after resume
    }

    [Fact]
    public void CheckpointsKeepOnlyTheNewestAndSaveIsAtomic()
    {
        var data = Data();
        using var dir = new TempDirectory();
        var runFolder = dir.File("run");
        using var model = TestModels.Tiny();
        using var trainer = new Trainer(model, data, null, Options with { Epochs = 1, CheckpointEvery = 1 });
        trainer.SaveCheckpoint = new CheckpointManager(runFolder, 2, ModelFolder.CheckpointContent(null)).Save;
        trainer.Run();
        var names = Directory.GetDirectories(runFolder).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(new[] { "checkpoint-11", "checkpoint-12" }, names);
        foreach (var f in new[]
                 {
                     "config.json", "model.safetensors", "generation_config.json", "trainer_state.json", "optimizer.safetensors",
                     "rng_state.safetensors",
                 })
            Assert.True(File.Exists(Path.Combine(runFolder, "checkpoint-12", f)), f);
    }

    [Fact]
    public void ModelFolderRoundTripsWeightsExactly()
    {
        using var dir = new TempDirectory();
        using var model = TestModels.Tiny(seed: 3);
        ModelFolder.Save(dir.Path, model, null);
        using var loaded = ModelFolder.Load(dir.Path);
        foreach (var ((name, a), (_, b)) in model.named_parameters().Zip(loaded.named_parameters()))
            Assert.True(a.Equals(b), name);
        Assert.Equal(model.Config.ToJson().Replace("\"torch_dtype\": \"float32\",", ""),
            loaded.Config.ToJson().Replace("\"torch_dtype\": \"float32\",", ""));
    }

    [Fact]
    public void IncompleteOrMismatchedFoldersGiveClearErrors()
    {
        using var dir = new TempDirectory();
        Assert.Contains("not found", Assert.Throws<SharpLMException>(() => ModelFolder.Load(dir.File("nope"))).Message);
        Directory.CreateDirectory(dir.File("empty"));
        Assert.Contains("config.json is missing", Assert.Throws<SharpLMException>(() => ModelFolder.Load(dir.File("empty"))).Message);

        using var model = TestModels.Tiny();
        ModelFolder.Save(dir.File("m"), model, null);
        File.Delete(dir.File("m/model.safetensors"));
        Assert.Contains("no weights", Assert.Throws<SharpLMException>(() => ModelFolder.Load(dir.File("m"))).Message);

        // Weights of a 2-layer model under a config that says 3 layers.
        ModelFolder.Save(dir.File("m2"), model, null);
        var config = File.ReadAllText(dir.File("m2/config.json")).Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
        File.WriteAllText(dir.File("m2/config.json"), config);
        var e = Assert.Throws<SharpLMException>(() => ModelFolder.Load(dir.File("m2")));
        Assert.Contains("Missing: model.layers.2.", e.Message);

        // A checkpoint folder without its optimizer state cannot be resumed, and the error says why.
        using var trainer = new Trainer(model, Data(), null, Options);
        var restore = Assert.Throws<SharpLMException>(() =>
            new CheckpointManager(dir.File("run"), 2, ModelFolder.CheckpointContent(null)).Restore(trainer, dir.File("m2")));
        Assert.Contains("trainer_state.json is missing", restore.Message);
    }

    [Fact]
    public void AFailedSaveLeavesThePreviousCheckpointIntact()
    {
        var data = Data();
        using var dir = new TempDirectory();
        var runFolder = dir.File("run");
        using var model = TestModels.Tiny();
        int saves = 0;
        var full = ModelFolder.CheckpointContent(null);
        // The second save dies half-way (disk full, crash...): after the weights, before anything else.
        var flaky = new CheckpointManager.ModelContent((folder, m) =>
        {
            full.Save(folder, m);
            if (++saves == 2) throw new IOException("No space left on device");
        }, full.Load);
        using var trainer = new Trainer(model, data, null, Options with { Epochs = 1, CheckpointEvery = 4 });
        trainer.SaveCheckpoint = new CheckpointManager(runFolder, 2, flaky).Save;
        Assert.Throws<IOException>(() => trainer.Run());
        Assert.Equal(Path.Combine(runFolder, "checkpoint-4"), CheckpointManager.Latest(runFolder));
        Assert.False(Directory.Exists(Path.Combine(runFolder, "checkpoint-8")));
        using var again = TestModels.Tiny(seed: 77);
        using var resumed = new Trainer(again, data, null, Options with { Epochs = 1, CheckpointEvery = 4 });
        new CheckpointManager(runFolder, 2, full).Restore(resumed, CheckpointManager.Latest(runFolder)!);
        Assert.Equal(4, resumed.State.Step);
    }

    [Fact]
    public void ATokenizerThatDoesNotFitTheModelIsRefused()
    {
        using var dir = new TempDirectory();
        using var model = TestModels.Tiny(vocab: 64);
        var tokenizer = new SharpLM.Tokenization.BpeTrainer(new() { VocabSize = 300 }).Train(SharpLM.Tests.Tokenization.TestCorpus.Documents(50));
        ModelFolder.Save(dir.Path, model, tokenizer);
        var e = Assert.Throws<SharpLMException>(() => PretrainedModel.Load(dir.Path));
        Assert.Contains("300 tokens", e.Message);
        Assert.Contains("vocab_size is 64", e.Message);
    }

    sealed class KilledException : Exception;

    sealed class Recorder(List<double> losses, int stopAfter = int.MaxValue) : ITrainingObserver
    {
        public void OnStep(StepMetrics step)
        {
            losses.Add(step.Loss);
            if (losses.Count == stopAfter) throw new KilledException();
        }
    }
}
