using System.Globalization;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>
/// Shows training as it goes: a live progress bar (step, loss, lr, tokens/s, ETA) on a terminal, or a plain line
/// every few steps when the output is a file or a pipe. Validation results and checkpoints are printed as lines.
/// </summary>
sealed class TrainingProgressView : ITrainingObserver
{
    readonly int logEvery;
    ProgressTask? task;
    double smoothedTokensPerSecond;

    public TrainingProgressView(int logEvery) => this.logEvery = Math.Max(1, logEvery);

    /// <summary>Runs <paramref name="work"/> with the live display (when the terminal supports one).</summary>
    public void Run(long totalSteps, long startStep, Action work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            work();
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn())
            .Start(ctx =>
            {
                task = ctx.AddTask("starting", maxValue: totalSteps);
                task.Value = startStep;
                work();
            });
        task = null;
    }

    public void OnStep(StepMetrics m)
    {
        smoothedTokensPerSecond = smoothedTokensPerSecond == 0 ? m.TokensPerSecond : 0.9 * smoothedTokensPerSecond + 0.1 * m.TokensPerSecond;
        var eta = TimeSpan.FromSeconds((m.TotalSteps - m.Step) * m.Tokens / Math.Max(smoothedTokensPerSecond, 1e-9));
        var line = $"step {m.Step}/{m.TotalSteps}  loss {m.Loss:F4}{Metrics(m.Metrics)}  lr {m.LearningRate:0.00e+0}  |g| {m.GradNorm:F2}  " +
                   $"{smoothedTokensPerSecond:N0} tok/s  ETA {Format(eta)}";
        if (task is not null)
        {
            task.Description = line;
            task.Value = m.Step;
        }
        else if (m.Step % logEvery == 0 || m.Step == m.TotalSteps || m.Step == 1)
        {
            AnsiConsole.WriteLine(line);
        }
    }

    public void OnEvaluation(EvalMetrics e)
    {
        string perplexity = e.Perplexity is { } p ? $", perplexity {p:F2}" : "";
        AnsiConsole.MarkupLineInterpolated(
            $"[blue]validation[/] at step {e.Step}: loss {e.Loss:F4}{perplexity}{Metrics(e.Metrics)} ({e.Units:N0} {e.Unit})");
    }

    /// <summary>Preference metrics, shortened: the reward accuracy and margin, and each side's reward.</summary>
    static string Metrics(IReadOnlyDictionary<string, double>? metrics)
    {
        if (metrics is null || metrics.Count == 0) return "";
        var shown = new List<string>();
        foreach (var (name, label, format) in new[]
                 {
                     ("rewards/accuracies", "acc", "F2"), ("rewards/margins", "margin", "F3"), ("rewards/chosen", "chosen", "F3"),
                     ("rewards/rejected", "rejected", "F3"),
                 })
            if (metrics.TryGetValue(name, out var value)) shown.Add($"{label} {value.ToString(format, CultureInfo.InvariantCulture)}");
        return shown.Count == 0 ? "" : "  " + string.Join("  ", shown);
    }

    public void OnSample(SampleMetrics s) => AnsiConsole.MarkupLineInterpolated($"[blue]sample[/] at step {s.Step}: [bold]{s.Prompt}[/] -> {s.Text}");

    public void OnCheckpoint(long step, string path) => AnsiConsole.MarkupLineInterpolated($"[grey]checkpoint {path}[/]");

    public void OnMessage(string message) => AnsiConsole.MarkupLineInterpolated($"{message}");

    static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
}
