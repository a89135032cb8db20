using System.CommandLine;
using System.Text.Json;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>`finetune --objective dpo` end to end on a tiny model: LoRA (reference: the base with the adapters off) and
/// full fine-tuning (a frozen copy, or reference log-probabilities computed before training, which give the same steps);
/// TRL's reward metrics in metrics.jsonl for training and validation; --resume continues exactly; `data preview` shows
/// pairs.</summary>
[Collection(CliCollection.Name)]
public sealed class DpoCommandTests : IDisposable
{
    static readonly string[] RewardMetrics =
        ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"];

    readonly TempDirectory dir = new();
    readonly string model, train, valid;

    public DpoCommandTests()
    {
        model = TestModels.TinyFolder(dir.File("base"));
        static string Pairs(int from, int count) => string.Join("\n", Enumerable.Range(from, count).Select(i =>
            JsonSerializer.Serialize(new { prompt = $"Say {i}", chosen = $"{i} {i}", rejected = $"no {i}" })));
        train = dir.Write("pairs/train.jsonl", Pairs(0, 16));
        valid = dir.Write("pairs/valid.jsonl", Pairs(100, 4));
    }

    public void Dispose() => dir.Dispose();

    static (int Code, string Output) Run(params string[] args)
        => ConsoleCapture.Invoke(new RootCommand { FinetuneCommand.Create(), DataCommand.Create() }, args);

    string[] Dpo(string output, string method, params string[] more) =>
    [
        "finetune", "--objective", "dpo", "--model", model, "--data", train, "--valid", valid, "--method", method, "--max-steps", "4",
        "--batch-size", "4", "--max-length", "32", "--precision", "Fp32", "--lr", "1e-3", "--eval-every", "2", "--exact-match", "0",
        "--output", output, .. more,
    ];

    static void AssertRewardMetrics(string run, int trainLines, int validLines)
    {
        var steps = RunMetrics.Of(run, "train");
        Assert.Equal(trainLines, steps.Count);
        Assert.All(steps, s => Assert.All(RewardMetrics, m => Assert.True(s.TryGetProperty(m, out _), $"train: no {m}")));
        var validations = RunMetrics.Of(run, "valid");
        Assert.Equal(validLines, validations.Count);
        Assert.All(validations, v => Assert.All(RewardMetrics, m => Assert.True(v.TryGetProperty(m, out _), $"valid: no {m}")));
        Assert.All(validations, v => Assert.Equal(4, v.GetProperty("pairs").GetInt64()));
        // The first step compares the starting model with itself: DPO's loss is ln 2.
        Assert.Equal(Math.Log(2), steps[0].GetProperty("loss").GetDouble(), 1e-5);
    }

    [Fact]
    public void LoraDpoLogsTheRewardMetricsAndResumesExactly()
    {
        var run = dir.File("lora");
        var (code, output) = Run(Dpo(run, "lora", "--lora-rank", "4", "--checkpoint-every", "2", "--keep-checkpoints", "2"));
        Assert.True(code == 0, output);
        Assert.Contains("the base with the adapters off", output);
        Assert.Contains("validation reward accuracy", output);
        AssertRewardMetrics(run, trainLines: 4, validLines: 3); // before training, at step 2 and at step 4
        var uninterrupted = File.ReadAllBytes(Path.Combine(run, "final", "adapter_model.safetensors"));

        Directory.Delete(Path.Combine(run, "checkpoint-4"), recursive: true);
        Directory.Delete(Path.Combine(run, "final"), recursive: true);
        (code, output) = Run("finetune", "--output", run, "--resume");
        Assert.True(code == 0, output);
        Assert.Contains("at step 2", output);
        Assert.Equal(uninterrupted, File.ReadAllBytes(Path.Combine(run, "final", "adapter_model.safetensors")));
        Assert.Equal([1L, 2, 3, 4], RunMetrics.Of(run, "train").Select(m => m.GetProperty("step").GetInt64()));

        (code, output) = Run("finetune", "--output", run, "--resume", "--beta", "0.5");
        Assert.Equal(1, code);
        Assert.Contains("--beta 0.1 -> 0.5", output);
    }

    [Fact]
    public void FullDpoWithAFrozenCopyOrPrecomputedReferenceTakesTheSameStepsAndResumes()
    {
        var copy = dir.File("full");
        var precomputed = dir.File("full-precomputed");
        ConsoleCapture.AssertOk(Run(Dpo(copy, "full")));
        ConsoleCapture.AssertOk(Run(Dpo(precomputed, "full", "--precompute-ref", "--checkpoint-every", "2", "--keep-checkpoints", "2")));
        AssertRewardMetrics(copy, trainLines: 4, validLines: 3);
        AssertRewardMetrics(precomputed, trainLines: 4, validLines: 3);
        foreach (var (a, b) in RunMetrics.Of(copy, "train").Zip(RunMetrics.Of(precomputed, "train")))
            Assert.Equal(a.GetProperty("loss").GetDouble(), b.GetProperty("loss").GetDouble(), 1e-4);

        // Resuming computes the reference from --model again, before the checkpoint's weights load.
        var uninterrupted = File.ReadAllBytes(Path.Combine(precomputed, "final", "model.safetensors"));
        Directory.Delete(Path.Combine(precomputed, "checkpoint-4"), recursive: true);
        Directory.Delete(Path.Combine(precomputed, "final"), recursive: true);
        ConsoleCapture.AssertOk(Run("finetune", "--output", precomputed, "--resume"));
        Assert.Equal(uninterrupted, File.ReadAllBytes(Path.Combine(precomputed, "final", "model.safetensors")));
    }

    [Fact]
    public void OptionsThatDoNotFitTheObjectiveAndBadPairsAreRefusedByName()
    {
        var (code, output) = Run("finetune", "--model", model, "--data", train, "--beta", "0.2", "--output", dir.File("x"));
        Assert.Equal(1, code);
        Assert.Contains("--beta applies to --objective dpo", output);
        (code, output) = Run(Dpo(dir.File("y"), "lora", "--packing"));
        Assert.Equal(1, code);
        Assert.Contains("--packing does not apply to --objective dpo", output);
        (code, output) = Run(Dpo(dir.File("y"), "lora", "--beta", "0"));
        Assert.Equal(1, code);
        Assert.Contains("the DPO beta (Beta) must be a positive number, got 0", output);
        (code, output) = Run(Dpo(dir.File("y"), "lora", "--loss-type", "ipo", "--label-smoothing", "0.1"));
        Assert.Equal(1, code);
        Assert.Contains("LabelSmoothing applies to the Sigmoid loss only, not Ipo", output);
        var bad = dir.Write("bad.jsonl", "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n{\"prompt\": \"p\", \"chosen\": \"c\"}\n");
        (code, output) = Run("finetune", "--objective", "dpo", "--model", model, "--data", bad, "--max-length", "32", "--output", dir.File("z"));
        Assert.Equal(1, code);
        Assert.True(output.ReplaceLineEndings("").Contains($"{bad}:2: field \"rejected\" is missing"), output);
    }

    [Fact]
    public void DataPreviewShowsBothSidesOfAPair()
    {
        var (code, output) = Run("data", "preview", "--objective", "dpo", "--data", train, "--tokenizer", model, "--template", "chatml",
            "--examples", "1");
        Assert.True(code == 0, output);
        Assert.Contains($"{train}:1 chosen", output);
        Assert.Contains($"{train}:1 rejected", output);
        Assert.Contains("0 0", output);
        Assert.Contains("no 0", output);
        Assert.Contains("pairs kept", output);
    }
}
