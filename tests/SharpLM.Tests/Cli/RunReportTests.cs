using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Tests.Tokenization;
using SharpLM.Tests.Training;
using SharpLM.Training;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>`--report-to tensorboard csv` and `--sample-every`: the event files and metrics.csv hold what metrics.jsonl
/// holds (read back independently), samples are printed and logged, a resume keeps the csv one run, and sampling
/// leaves the training as it was.</summary>
[Collection(CliCollection.Name)]
public sealed class RunReportTests : IDisposable
{
    readonly TempDirectory dir = new();
    readonly string corpus, validation, tokenizer;

    public RunReportTests()
    {
        corpus = dir.Write("corpus/train.txt", string.Join("\n\n", TestCorpus.Documents(40)));
        validation = dir.Write("corpus/valid.txt", string.Join("\n\n", TestCorpus.Documents(6, seed: 9)));
        tokenizer = dir.File("tok/tokenizer.json");
        Directory.CreateDirectory(dir.File("tok"));
        TestCorpus.Tokenizer.Save(tokenizer);
    }

    public void Dispose() => dir.Dispose();

    static (int Code, string Output) Run(params string[] args)
        => ConsoleCapture.Invoke(new RootCommand { PretrainCommand.Create(), FinetuneCommand.Create() }, args);

    string[] Pretrain(string output) =>
    [
        "pretrain", "--data", corpus, "--valid", validation, "--tokenizer", tokenizer, "--preset", "tiny", "--seq-len", "16",
        "--batch-size", "2", "--max-steps", "4", "--warmup", "1", "--eval-every", "2", "--checkpoint-every", "2", "--precision", "Fp32",
        "--output", output,
    ];

    [Fact]
    public void TensorBoardAndCsvHoldWhatMetricsJsonlHoldsAndSamplesArePrintedAndLogged()
    {
        var run = dir.File("run");
        var (code, output) = Run([.. Pretrain(run), "--report-to", "tensorboard", "csv", "--sample-every", "2", "--sample-prompt", "the model"]);
        Assert.True(code == 0, output);
        var train = RunMetrics.Of(run, "train");
        var valid = RunMetrics.Of(run, "valid");
        var samples = RunMetrics.Of(run, "sample");
        Assert.Equal(4, train.Count);
        Assert.Equal([0L, 2, 4], valid.Select(v => v.GetProperty("step").GetInt64())); // before training, then every 2 steps
        Assert.Equal([2L, 4], samples.Select(s => s.GetProperty("step").GetInt64()));
        Assert.All(samples, s => Assert.Equal("the model", s.GetProperty("prompt").GetString()));
        foreach (var s in samples)
            Assert.Contains($"sample at step {s.GetProperty("step")}: the model -> {s.GetProperty("text").GetString()}", output);

        // TensorBoard: one event file, its first event the file version, then scalars and texts under the jsonl names.
        var file = Assert.Single(Directory.GetFiles(run, TensorBoardLog.FilePrefix + "*"));
        var events = TensorBoardEvents.Read(file);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        var scalars = events.SelectMany(e => e.Values.Where(v => v.Scalar is not null).Select(v => (v.Tag, e.Step, v.Scalar!.Value)))
            .ToList();
        var expected = train.SelectMany(m => new[] { "loss", "lr", "grad_norm", "tokens_per_second" }
                .Select(name => ($"train/{name}", m.GetProperty("step").GetInt64(), (float)m.GetProperty(name).GetDouble())))
            .Concat(valid.SelectMany(m => new[] { "loss", "perplexity" }
                .Select(name => ($"valid/{name}", m.GetProperty("step").GetInt64(), (float)m.GetProperty(name).GetDouble()))))
            .ToList();
        Assert.Equal(expected.Order(), scalars.Order());
        var texts = events.SelectMany(e => e.Values.Where(v => v.Text is not null).Select(v => (v.Tag, e.Step, v.Text))).ToList();
        Assert.Equal(samples.Select(s => ("sample/1/text_summary", s.GetProperty("step").GetInt64(),
            (string?)$"the model -> {s.GetProperty("text").GetString()}")), texts);
        Assert.All(events.Skip(1), e => Assert.InRange(e.WallTime, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 600, double.MaxValue));

        // metrics.csv: a header, then one row per training and validation record with the same values.
        var lines = File.ReadAllLines(Path.Combine(run, CsvMetricsLog.FileName));
        Assert.Equal(string.Join(',', CsvMetricsLog.Columns), lines[0]);
        var records = RecordsOf(run).Where(r => r.GetProperty("type").GetString() != "sample").ToList();
        Assert.Equal(records.Count, lines.Length - 1);
        foreach (var (record, line) in records.Zip(lines.Skip(1)))
        {
            var cells = CsvMetricsLog.Columns.Zip(line.Split(',')).ToDictionary(c => c.First, c => c.Second);
            foreach (var field in record.EnumerateObject())
                if (field.Value.ValueKind == JsonValueKind.Number)
                    Assert.Equal(field.Value.GetDouble(), double.Parse(cells[field.Name], CultureInfo.InvariantCulture));
                else
                    Assert.Equal(field.Value.GetString(), cells[field.Name]);
            Assert.All(CsvMetricsLog.Columns.Where(c => !record.TryGetProperty(c, out _)), c => Assert.Equal("", cells[c]));
        }

        // Killed after step 3: the resume drops the csv's rows and the earlier event file's events after the checkpoint
        // (step 2), and starts a second event file.
        Directory.Delete(Path.Combine(run, "checkpoint-4"), recursive: true);
        Directory.Delete(Path.Combine(run, "final"), recursive: true);
        ConsoleCapture.AssertOk(Run("pretrain", "--output", run, "--resume"));
        var csvSteps = File.ReadAllLines(Path.Combine(run, CsvMetricsLog.FileName)).Skip(1).Where(l => l.StartsWith("train,"))
            .Select(l => long.Parse(l.Split(',')[1], CultureInfo.InvariantCulture));
        Assert.Equal([1L, 2, 3, 4], csvSteps);
        Assert.Equal([2L, 4], RunMetrics.Of(run, "sample").Select(s => s.GetProperty("step").GetInt64()));
        var files = Directory.GetFiles(run, TensorBoardLog.FilePrefix + "*");
        Assert.Equal(2, files.Length);
        Assert.Equal([1L, 2, 3, 4], files.SelectMany(TensorBoardEvents.Read)
            .Where(e => e.Values.Any(v => v.Tag == "train/loss")).Select(e => e.Step).Order());
    }

    static List<JsonElement> RecordsOf(string run) =>
        [.. File.ReadLines(Path.Combine(run, MetricsLog.FileName)).Select(l => JsonDocument.Parse(l).RootElement)];

    [Fact]
    public void SamplingDuringALoraFinetuneWithDropoutLeavesTheLossesAsTheyWere()
    {
        var model = TestModels.TinyFolder(dir.File("base"), seed: 3);
        var data = dir.Write("instruct/train.jsonl", string.Join("\n", Enumerable.Range(0, 16).Select(i =>
            JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i} {i}" }))));
        string[] Finetune(string output) =>
        [
            "finetune", "--model", model, "--data", data, "--method", "lora", "--lora-rank", "4", "--lora-dropout", "0.2",
            "--max-steps", "3", "--batch-size", "4", "--max-length", "48", "--exact-match", "0", "--precision", "Fp32", "--output", output,
        ];
        // LoRA dropout draws from libtorch's global generator, which a process starts at one fixed state: so do both runs here.
        // Sampling in training mode would draw from it too and change the later steps.
        TorchSharp.torch.manual_seed(11);
        ConsoleCapture.AssertOk(Run(Finetune(dir.File("plain"))));
        TorchSharp.torch.manual_seed(11);
        var (code, output) = Run([.. Finetune(dir.File("sampled")), "--sample-every", "1"]);
        Assert.True(code == 0, output);

        var samples = RunMetrics.Of(dir.File("sampled"), "sample");
        Assert.Equal([1L, 2, 3], samples.Select(s => s.GetProperty("step").GetInt64()));
        Assert.All(samples, s => Assert.Equal("Say 0", s.GetProperty("prompt").GetString())); // the data's first question
        Assert.Contains("sample at step 1: Say 0 -> ", output);
        static List<double> Losses(string run) => [.. RunMetrics.Of(run, "train").Select(m => m.GetProperty("loss").GetDouble())];
        Assert.Equal(Losses(dir.File("plain")), Losses(dir.File("sampled")));
    }

    [Fact]
    public void AnUnknownReportTargetIsRefused()
    {
        var (code, output) = Run([.. Pretrain(dir.File("x")), "--report-to", "wandb"]);
        Assert.Equal(1, code);
        Assert.Contains("wandb", output);
        Assert.Contains("tensorboard", output);
    }
}
