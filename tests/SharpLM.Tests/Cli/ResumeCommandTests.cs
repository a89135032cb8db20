using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>`--resume` as a user meets it: the saved settings fill in the command line, changes that break exactness
/// are named, damaged checkpoints are skipped or refused by name, a finished run can be extended, and keep 0 leaves
/// only final/.</summary>
[Collection(CliCollection.Name)]
public sealed class ResumeCommandTests : IDisposable
{
    readonly TempDirectory dir = new();
    readonly string corpus, tokenizer;

    public ResumeCommandTests()
    {
        corpus = dir.Write("corpus/train.txt", string.Join("\n\n", TestCorpus.Documents(60)));
        tokenizer = dir.File("tok/tokenizer.json");
        Directory.CreateDirectory(dir.File("tok"));
        TestCorpus.Tokenizer.Save(tokenizer);
    }

    public void Dispose() => dir.Dispose();

    /// <summary>Runs a command in-process and returns its exit code and everything it printed (stdout and stderr).</summary>
    static (int Code, string Output) Run(params string[] args)
        => ConsoleCapture.Invoke(new RootCommand { PretrainCommand.Create(), FinetuneCommand.Create() }, args);

    string[] Pretrain(string output, int steps = 6, int seqLen = 32, int batchSize = 4, int checkpointEvery = 3) =>
    [
        "pretrain", "--data", corpus, "--tokenizer", tokenizer, "--preset", "tiny", "--seq-len", $"{seqLen}", "--batch-size", $"{batchSize}",
        "--max-steps", $"{steps}", "--warmup", "2", "--checkpoint-every", $"{checkpointEvery}", "--precision", "Fp32", "--output", output,
    ];

    static List<long> TrainSteps(string run) => [.. RunMetrics.Of(run, "train").Select(m => m.GetProperty("step").GetInt64())];

    static void SetGlobalStep(string checkpoint, long step)
    {
        var path = Path.Combine(checkpoint, "trainer_state.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["global_step"] = step;
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void ResumeAloneTakesTheSavedSettingsAndContinuesExactly()
    {
        var run = dir.File("run");
        ConsoleCapture.AssertOk(Run(Pretrain(run)));
        var settings = RunSettings.Load(run, new RootCommand { PretrainCommand.Create() }.Subcommands[0])!;
        Assert.Equal([Path.GetFullPath(tokenizer)], settings.Values("--tokenizer"));
        Assert.Equal(64, settings.Fingerprints["data"].Length);
        var uninterrupted = File.ReadAllBytes(Path.Combine(run, "final", "model.safetensors"));

        // "Killed" after step 5: the newest checkpoint is step 3, the log runs ahead of it.
        Directory.Delete(Path.Combine(run, "checkpoint-6"), recursive: true);
        Directory.Delete(Path.Combine(run, "final"), recursive: true);
        var log = Path.Combine(run, "metrics.jsonl");
        File.WriteAllLines(log, File.ReadAllLines(log)[..^1]);

        var (code, output) = Run("pretrain", "--output", run, "--resume");
        Assert.True(code == 0, output);
        Assert.Contains("at step 3", output);
        Assert.Equal(uninterrupted, File.ReadAllBytes(Path.Combine(run, "final", "model.safetensors")));
        Assert.Equal([1L, 2, 3, 4, 5, 6], TrainSteps(run));
    }

    [Fact]
    public void RequiredOptionsAreCheckedWithoutSavedSettings()
    {
        var (code, output) = Run("pretrain", "--output", dir.File("none"), "--tokenizer", tokenizer);
        Assert.Equal(1, code);
        Assert.Contains("--data is required", output);
        (code, output) = Run("finetune", "--output", dir.File("none"), "--resume", "--data", corpus);
        Assert.Equal(1, code);
        Assert.Contains("--model is required", output);
    }

    [Fact]
    public void ChangesThatBreakExactnessAreNamedAndNeedAllowChanges()
    {
        var run = dir.File("run");
        ConsoleCapture.AssertOk(Run(Pretrain(run)));
        Directory.Delete(Path.Combine(run, "checkpoint-6"), recursive: true);

        var (code, output) = Run("pretrain", "--output", run, "--resume", "--lr", "0.01", "--batch-size", "2");
        Assert.Equal(1, code);
        Assert.Contains("--batch-size 4 -> 2", output);
        Assert.Contains("--lr 0.001 -> 0.01", output);
        Assert.Contains("--allow-changes", output);
        Assert.DoesNotContain("checkpoint-",
            string.Join(",", Directory.GetDirectories(run).Select(Path.GetFileName).Where(n => n != "checkpoint-3")));

        // The schedule's length and how the run is checkpointed may change freely.
        File.AppendAllText(corpus, "\n\nOne more document about the model.");
        File.AppendAllText(tokenizer, "\n");
        (code, output) = Run("pretrain", "--output", run, "--resume", "--checkpoint-every", "2");
        Assert.Equal(1, code);
        Assert.Contains("the training data changed since the checkpoint (data fingerprint", output);
        Assert.Contains("the tokenizer changed since the checkpoint (tokenizer fingerprint", output);
        Assert.DoesNotContain("--checkpoint-every", output);

        (code, output) = Run("pretrain", "--output", run, "--resume", "--allow-changes");
        Assert.True(code == 0, output);
        Assert.Contains("warning", output);
        Assert.Contains("data fingerprint", output);

        // A run folder from before run.yaml: the checkpoint's own training options are still compared.
        File.Delete(Path.Combine(run, "run.yaml"));
        (code, output) = Run([.. Pretrain(run), "--resume", "--lr", "0.01"]);
        Assert.Equal(1, code);
        Assert.Contains("LearningRate 0.001 -> 0.01", output);
        Assert.Contains("--allow-changes", output);
    }

    [Fact]
    public void AFinishedRunIsExtendedByALongerMaxSteps()
    {
        var run = dir.File("run");
        ConsoleCapture.AssertOk(Run(Pretrain(run, steps: 120, seqLen: 16, batchSize: 2, checkpointEvery: 0)));
        Assert.Equal(120, TrainSteps(run).Count);
        File.Delete(Path.Combine(run, "final", "model.safetensors"));

        var (code, output) = Run("pretrain", "--output", run, "--resume", "--max-steps", "140");
        Assert.True(code == 0, output);
        Assert.Contains("at step 120", output);
        Assert.Equal(Enumerable.Range(1, 140).Select(i => (long)i), TrainSteps(run));
        Assert.True(File.Exists(Path.Combine(run, "final", "model.safetensors")));
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "checkpoint-140", "trainer_state.json")))!;
        Assert.Equal(140, state["total_steps"]!.GetValue<long>());

        // A run shorter than where it stands cannot continue.
        (code, output) = Run("pretrain", "--output", run, "--resume", "--max-steps", "100");
        Assert.Equal(1, code);
        Assert.Contains("past the end of a run of 100 steps", output);
    }

    [Fact]
    public void ADamagedNewestCheckpointIsSkippedByNameAndADamagedOnlyOneIsRefusedWithoutTouchingTheLog()
    {
        var run = dir.File("run");
        ConsoleCapture.AssertOk(Run(Pretrain(run)));
        var uninterrupted = File.ReadAllBytes(Path.Combine(run, "final", "model.safetensors"));
        SetGlobalStep(Path.Combine(run, "checkpoint-6"), -5);

        var (code, output) = Run("pretrain", "--output", run, "--resume");
        Assert.True(code == 0, output);
        Assert.Contains("skipping " + Path.Combine(run, "checkpoint-6"), output);
        Assert.Contains("global_step is -5", output);
        Assert.Contains("resuming from the newest good checkpoint, " + Path.Combine(run, "checkpoint-3"), output);
        Assert.Equal([1L, 2, 3, 4, 5, 6], TrainSteps(run));
        Assert.Equal(uninterrupted, File.ReadAllBytes(Path.Combine(run, "final", "model.safetensors")));

        // With no good checkpoint left, nothing is rewritten and nothing is trained.
        Directory.Delete(Path.Combine(run, "checkpoint-3"), recursive: true);
        SetGlobalStep(Path.Combine(run, "checkpoint-6"), 1_000_000_000_000);
        Directory.Delete(Path.Combine(run, "final"), recursive: true);
        var log = File.ReadAllBytes(Path.Combine(run, "metrics.jsonl"));
        (code, output) = Run("pretrain", "--output", run, "--resume");
        Assert.Equal(1, code);
        Assert.Contains("trainer_state.json: global_step is 1000000000000", output);
        Assert.Equal(log, File.ReadAllBytes(Path.Combine(run, "metrics.jsonl")));
        Assert.False(Directory.Exists(Path.Combine(run, "final")));
    }

    [Fact]
    public void KeepCheckpointsZeroLeavesOnlyTheFinalModel()
    {
        var run = dir.File("run");
        ConsoleCapture.AssertOk(Run([.. Pretrain(run), "--keep-checkpoints", "0"]));
        Assert.True(File.Exists(Path.Combine(run, "final", "model.safetensors")));
        Assert.Empty(Directory.GetDirectories(run, "checkpoint-*"));
        var (code, output) = Run("pretrain", "--output", run, "--resume");
        Assert.Equal(1, code);
        Assert.Contains("--keep-checkpoints 0", output);
    }

    [Fact]
    public void ALoraFinetuneResumesExactlyFromItsSavedSettings()
    {
        var pretrain = dir.File("pretrain");
        ConsoleCapture.AssertOk(Run(Pretrain(pretrain, steps: 2)));
        var data = dir.Write("instruct/train.jsonl", string.Join("\n", Enumerable.Range(0, 24).Select(i =>
            JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i} {i}" }))));
        var lora = dir.File("lora");
        ConsoleCapture.AssertOk(Run("finetune", "--model", Path.Combine(pretrain, "final"), "--data", data, "--method", "lora", "--lora-rank", "4",
            "--max-steps", "4", "--checkpoint-every", "2", "--keep-checkpoints", "2", "--batch-size", "8", "--max-length", "64",
            "--precision", "Fp32", "--output", lora));
        var uninterrupted = File.ReadAllBytes(Path.Combine(lora, "final", "adapter_model.safetensors"));
        Directory.Delete(Path.Combine(lora, "checkpoint-4"), recursive: true);
        Directory.Delete(Path.Combine(lora, "final"), recursive: true);

        var (code, output) = Run("finetune", "--output", lora, "--resume");
        Assert.True(code == 0, output);
        Assert.Equal(uninterrupted, File.ReadAllBytes(Path.Combine(lora, "final", "adapter_model.safetensors")));

        // The adapter's effective learning rate (1e-3, not --lr's default) is what a resume compares against.
        (code, output) = Run("finetune", "--output", lora, "--resume", "--lr", "1e-4");
        Assert.Equal(1, code);
        Assert.Contains("--lr 0.001 -> 0.0001", output);
    }
}
