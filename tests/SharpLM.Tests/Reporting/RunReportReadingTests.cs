using SharpLM.Hub;
using SharpLM.Reporting;
using Xunit;

namespace SharpLM.Tests.Reporting;

/// <summary>What a report reads from a run folder besides real runs' logs (ReportCommandTests): run.yaml and run.json
/// settings, a model card's evaluation table, a resumed run's clock, and the smoothing of its curve.</summary>
public sealed class RunReportReadingTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void RunYamlIsReadBeforeTheOtherSettingsFiles()
    {
        dir.Write("run/run.yaml", """
            # sharplm pretrain
            command: pretrain
            seq-len: 256
            lr: 2e-3   # the peak
            sample-prompt: "Call me: \"Ishmael\""
            data:
              - data/a.txt
              - 'data/b#1.txt'
            tags: [x, "y"]
            fingerprints:
              data: abc
            """);
        dir.Write("run/run-settings.json", """{"command":"finetune","settings":{"--lr":1}}""");
        var (command, settings) = RecordedSettings.Load(dir.File("run"))!.Value;
        Assert.Equal("pretrain", command);
        Assert.Equal([("seq-len", "256"), ("lr", "2e-3"), ("sample-prompt", "Call me: \"Ishmael\""), ("data", "data/a.txt, data/b#1.txt"),
            ("tags", "x, y"), ("fingerprints", "data: abc")], settings);

        dir.Write("bad/run.yaml", "lr: 1\noops\n");
        var error = Assert.Throws<SharpLMException>(() => RecordedSettings.Load(dir.File("bad")));
        Assert.Contains("run.yaml:2: expected \"name: value\"", error.Message);
    }

    [Fact]
    public void AnOlderRunsCommandLineStandsInForItsSettings()
    {
        dir.Write("run/run.json", """
            {"command":"pretrain","args":["pretrain","--data","d","--sample-prompt","a","--sample-prompt","b","--overwrite","--lr","2e-3",
                "--output","x","--no-kv-cache"]}
            """);
        var (command, settings) = RecordedSettings.Load(dir.File("run"))!.Value;
        Assert.Equal("pretrain", command);
        Assert.Equal([("data", "d"), ("sample-prompt", "a, b"), ("lr", "2e-3"), ("no-kv-cache", "true")], settings);
        Assert.Null(RecordedSettings.Load(dir.Path));
    }

    [Fact]
    public void TheModelCardsEvaluationTableReadsBackAsWritten()
    {
        var folder = Directory.CreateDirectory(dir.File("final")).FullName;
        new ModelCard
        {
            BaseModel = "base",
            Training = [("method", "lora")],
            Evaluation = [("validation loss | answers", "2.5000", "1.2500"), ("exact match", "", "50.0%")],
        }.Save(folder);
        Assert.Equal([["metric", "before", "after"], ["validation loss | answers", "2.5000", "1.2500"], ["exact match", "", "50.0%"]],
            ModelCardEvaluation.Read(Path.Combine(folder, ModelCard.FileName)));
    }

    [Fact]
    public void AResumedRunsWallTimeAddsUpEachStretch()
    {
        // The second process started over at 0 s after step 2.
        var steps = new[] { (1, 4.0, 10.0), (2, 3.0, 20.0), (3, 2.5, 12.0), (4, 2.0, 25.0) }.Select(p =>
            $$"""{"type":"train","step":{{p.Item1}},"loss":{{p.Item2}},"tokens_per_second":{{p.Item1 * 100}},"elapsed_seconds":{{p.Item3}}}""");
        var log = dir.Write("metrics.jsonl", string.Join("\n", steps)
            + "\n" + """{"type":"valid","step":2,"loss":3.5}""" + "\n" + """{"type":"valid","step":4,"loss":3.5}""" + "\n");
        var summary = RunSummary.Of(RunHistory.Load(log));
        Assert.Equal(new RunSummary(4, 2.0, 3.5, 2, 250, 45), summary);
    }

    [Fact]
    public void SmoothingIsTensorBoardsDebiasedMovingAverage()
    {
        double[] values = [4, 2, 3];
        Assert.Equal(values, ExponentialSmoothing.Smooth(values, 0));
        var smoothed = ExponentialSmoothing.Smooth(values, 0.5);
        Assert.Equal(4, smoothed[0], 12); // debiased: the first point is itself, not half of it
        Assert.Equal((0.5 * 4 * 0.5 + 0.5 * 2) / 0.75, smoothed[1], 12);
        Assert.Throws<SharpLMException>(() => ExponentialSmoothing.Smooth(values, 1));
    }
}
