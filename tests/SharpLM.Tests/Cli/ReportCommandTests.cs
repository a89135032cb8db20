using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>Real tiny runs, made once for the tests below: two pretrains that differ in learning rate and validation
/// frequency, and a LoRA fine-tune of the first (whose model card has the before/after table).</summary>
public sealed class TinyRuns : IDisposable
{
    readonly TempDirectory dir = new();

    public TinyRuns()
    {
        var corpus = dir.Write("corpus/train.txt", string.Join("\n\n", TestCorpus.Documents(60)));
        var valid = dir.Write("corpus/valid.txt", string.Join("\n\n", TestCorpus.Documents(10, seed: 9)));
        var tokenizer = dir.File("tok/tokenizer.json");
        Directory.CreateDirectory(dir.File("tok"));
        TestCorpus.Tokenizer.Save(tokenizer);
        string[] Pretrain(string output, string lr, string evalEvery) =>
        [
            "pretrain", "--data", corpus, "--valid", valid, "--tokenizer", tokenizer, "--preset", "tiny", "--seq-len", "32",
            "--batch-size", "4", "--max-steps", "6", "--warmup", "2", "--lr", lr, "--eval-every", evalEvery, "--precision", "Fp32",
            "--output", output,
        ];
        Base = dir.File("runs/base");
        Other = dir.File("runs/other");
        Lora = dir.File("runs/lora");
        ConsoleCapture.AssertOk(ReportCommandTests.Run(Pretrain(Base, "1e-3", "3")));
        ConsoleCapture.AssertOk(ReportCommandTests.Run(Pretrain(Other, "3e-3", "2")));
        var data = dir.Write("instruct/train.jsonl", string.Join("\n", Enumerable.Range(0, 16).Select(i =>
            JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i} {i}" }))));
        ConsoleCapture.AssertOk(ReportCommandTests.Run("finetune", "--model", Path.Combine(Base, "final"), "--data", data, "--valid", data,
            "--method", "lora", "--lora-rank", "4", "--max-steps", "3", "--batch-size", "8", "--max-length", "96", "--precision", "Fp32",
            "--output", Lora));
    }

    public string Base { get; }
    public string Other { get; }
    public string Lora { get; }

    public void Dispose() => dir.Dispose();
}

/// <summary>`sharplm report` on real runs: its numbers are metrics.jsonl's, its charts are PNGs on disk and inside the
/// page, it refuses to overwrite, and it names what is wrong with a folder or a log line.</summary>
[Collection(CliCollection.Name)]
public sealed class ReportCommandTests(TinyRuns runs) : IClassFixture<TinyRuns>, IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    internal static (int Code, string Output) Run(params string[] args)
        => ConsoleCapture.Invoke(new RootCommand { PretrainCommand.Create(), FinetuneCommand.Create(), ReportCommand.Create() }, args);


    static readonly string[] ChartFiles = ["training-loss.png", "validation-loss.png", "learning-rate.png", "gradient-norm.png"];
    static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>A summary row's cells: data-field to the exact value and to the text shown.</summary>
    static Dictionary<string, (double Value, string Shown)> SummaryRow(string html, string run)
    {
        var row = Regex.Match(html, $"<tr data-run=\"{Regex.Escape(run)}\">(.*?)</tr>").Groups[1].Value;
        Assert.NotEmpty(row);
        return Regex.Matches(row, "data-field=\"([a-z-]+)\" data-value=\"([^\"]+)\">([^<]*)<")
            .ToDictionary(m => m.Groups[1].Value, m => (double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), m.Groups[3].Value));
    }

    [Fact]
    public void SummaryChartsAndSettingsComeFromTheRuns()
    {
        var output = dir.File("report");
        var (code, text) = Run("report", runs.Base, runs.Other, "--output", output);
        Assert.True(code == 0, text);
        var page = Path.Combine(output, "index.html");
        Assert.Contains(page, text);
        var html = File.ReadAllText(page);

        foreach (var (name, run) in new[] { ("base", runs.Base), ("other", runs.Other) })
        {
            var train = RunMetrics.Of(run, "train");
            var valid = RunMetrics.Of(run, "valid");
            Assert.NotEmpty(valid);
            var best = valid.MinBy(v => v.GetProperty("loss").GetDouble());
            var row = SummaryRow(html, name);
            Assert.Equal(train.Max(t => t.GetProperty("step").GetInt64()), row["steps"].Value);
            Assert.Equal(train[^1].GetProperty("loss").GetDouble(), row["final-loss"].Value);
            Assert.Equal(train[^1].GetProperty("loss").GetDouble().ToString("F4", CultureInfo.InvariantCulture), row["final-loss"].Shown);
            Assert.Equal(best.GetProperty("loss").GetDouble(), row["best-valid-loss"].Value);
            Assert.Equal(best.GetProperty("step").GetInt64(), row["best-valid-step"].Value);
            Assert.Equal(train[^1].GetProperty("elapsed_seconds").GetDouble(), row["wall-seconds"].Value, 6);
        }

        // Each chart is a PNG beside the page and the same bytes inside it; the page loads nothing else.
        foreach (var file in ChartFiles)
        {
            var png = File.ReadAllBytes(Path.Combine(output, file));
            Assert.True(png.Length > 1000, $"{file}: {png.Length} bytes");
            Assert.Equal(PngSignature, png[..8]);
            Assert.Contains($"src=\"data:image/png;base64,{Convert.ToBase64String(png)}\"", html);
        }
        Assert.All(Regex.Matches(html, "(?:src|href)=\"([^\"]*)\"").Select(m => m.Groups[1].Value), link => Assert.StartsWith("data:", link));

        // Settings side by side: what differs is highlighted, what is shared is not.
        Assert.Matches("<tr class=\"differs\"><th>lr</th><td>0.001</td><td>0.003</td></tr>", html);
        Assert.Matches("<tr class=\"differs\"><th>eval-every</th><td>3</td><td>2</td></tr>", html);
        Assert.Matches("<tr><th>seq-len</th><td>32</td><td>32</td></tr>", html);
    }

    [Fact]
    public void AFineTuneShowsItsModelCardsEvaluationAndLoggedSamples()
    {
        // A sample record (as --sample-every will log) and a record type from a newer version, which is skipped.
        File.AppendAllLines(Path.Combine(runs.Lora, "metrics.jsonl"),
            ["""{"type":"sample","step":3,"prompt":"Say 4","text":"4 <&> 4"}""", """{"type":"future","step":3,"x":1}"""]);
        var output = dir.File("report");
        ConsoleCapture.AssertOk(Run("report", runs.Lora, "--output", output));
        var html = File.ReadAllText(Path.Combine(output, "index.html"));
        var card = File.ReadAllText(Path.Combine(runs.Lora, "final", "README.md"));
        var lossRow = Regex.Match(card, @"\| (validation loss[^|]*) \| ([^|]*) \| ([^|]*) \|");
        Assert.True(lossRow.Success, card);
        Assert.Contains($"<tr><td>{lossRow.Groups[1].Value}</td><td>{lossRow.Groups[2].Value}</td><td>{lossRow.Groups[3].Value}</td></tr>",
            html);
        Assert.Contains("<b>text:</b> 4 &lt;&amp;&gt; 4", html);
        Assert.Equal(3, SummaryRow(html, "lora")["steps"].Value);
    }

    [Fact]
    public void AnEarlierReportIsOverwrittenOnlyWithForce()
    {
        var output = dir.File("report");
        ConsoleCapture.AssertOk(Run("report", runs.Base, "--output", output));
        var page = Path.Combine(output, "index.html");
        File.WriteAllText(page, "mine");
        var (code, text) = Run("report", runs.Base, "--output", output);
        Assert.Equal(1, code);
        Assert.Contains($"{page} already exists; pass --force", text);
        Assert.Equal("mine", File.ReadAllText(page));
        ConsoleCapture.AssertOk(Run("report", runs.Base, "--output", output, "--force"));
        Assert.StartsWith("<!DOCTYPE html>", File.ReadAllText(page));
    }

    [Fact]
    public void AFolderThatIsNotARunIsNamed()
    {
        var empty = Directory.CreateDirectory(dir.File("empty")).FullName;
        var (code, text) = Run("report", runs.Base, empty, "--output", dir.File("report"));
        Assert.Equal(1, code);
        Assert.Contains($"{empty} is not a training run: it has no metrics.jsonl", text);

        var final = Path.Combine(runs.Base, "final");
        (code, text) = Run("report", final, "--output", dir.File("report"));
        Assert.Equal(1, code);
        Assert.Contains($"its run folder is {Path.GetFullPath(runs.Base)}", text);

        (code, text) = Run("report", dir.File("missing"), "--output", dir.File("report"));
        Assert.Equal(1, code);
        Assert.Contains($"{dir.File("missing")}: no such run folder", text);
        Assert.False(Directory.Exists(dir.File("report")));
    }

    [Fact]
    public void AMalformedLogLineIsNamedByFileAndLine()
    {
        var run = Directory.CreateDirectory(dir.File("broken")).FullName;
        var lines = File.ReadAllLines(Path.Combine(runs.Base, "metrics.jsonl"));
        var log = Path.Combine(run, "metrics.jsonl");

        File.WriteAllLines(log, [lines[0], lines[1], "{\"type\":\"train\",\"step\":", .. lines[3..]]);
        var (code, text) = Run("report", run, "--output", dir.File("report"));
        Assert.Equal(1, code);
        Assert.Contains($"{log}:3: not a JSON object", text);

        File.WriteAllLines(log, [lines[0], """{"type":"train","step":1,"lr":0.1}"""]);
        (code, text) = Run("report", run, "--output", dir.File("report"));
        Assert.Equal(1, code);
        Assert.Contains($"{log}:2: a \"train\" record needs a number \"loss\"", text);

        // A run still writing its log: the unfinished last line is skipped, and said to be.
        File.WriteAllText(log, string.Join("\n", lines) + "\n{\"type\":\"tra");
        (code, text) = Run("report", run, "--output", dir.File("report"));
        Assert.True(code == 0, text);
        Assert.Contains($"{log}:{lines.Length + 1}: skipped an unfinished last line", text);
    }
}
