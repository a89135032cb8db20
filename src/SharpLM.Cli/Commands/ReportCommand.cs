using System.CommandLine;
using System.Text;
using SharpLM.Cli.Reporting;
using SharpLM.IO;
using SharpLM.Reporting;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm report`: one self-contained HTML page (and its charts as PNGs) of one or several runs' curves,
/// settings side by side, summary, before/after evaluation and samples.</summary>
static class ReportCommand
{
    public const string PageName = "index.html";

    public static Command Create()
    {
        var runs = new Argument<string[]>("runs")
        {
            Description = "Run folders (the --output of pretrain or finetune); several are overlaid on the same charts.",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string>("--output", "-o") { Description = "Folder for index.html and the PNGs.", Required = true };
        var force = new Option<bool>("--force") { Description = "Overwrite an earlier report's files in --output." };
        var smoothing = new Option<double>("--smoothing")
        {
            Description = "Smoothing of the training loss, as TensorBoard's slider: 0 (none) to 0.99; the raw curve stays, faint.",
            DefaultValueFactory = _ => 0.6,
        };
        var cmd = new Command("report", "Write an HTML page of one or several runs: loss, validation, learning-rate and " +
                                        "gradient-norm curves, settings side by side, evaluation and samples.")
        {
            runs, output, force, smoothing,
        };
        cmd.SetAction(parse =>
        {
            var weight = parse.GetValue(smoothing);
            if (weight is < 0 or >= 1) throw new SharpLMException($"--smoothing {weight}: expected a number from 0 up to (not including) 1");
            var reported = ReportedRun.LoadAll(parse.GetValue(runs)!);
            foreach (var warning in reported.SelectMany(r => r.History.Warnings)) AnsiConsole.MarkupLineInterpolated($"[yellow]{warning}[/]");

            var charts = ReportCharts.Draw(reported, weight);
            var folder = parse.GetValue(output)!;
            var page = Path.Combine(folder, PageName);
            var existing = charts.Select(c => Path.Combine(folder, c.FileName)).Prepend(page).Where(File.Exists).ToList();
            if (existing.Count > 0 && !parse.GetValue(force))
                throw new SharpLMException($"{existing[0]} already exists; pass --force to overwrite it");

            Directory.CreateDirectory(folder);
            foreach (var chart in charts) AtomicFile.Write(Path.Combine(folder, chart.FileName), s => s.Write(chart.Png));
            var html = ReportPage.Render(reported, charts, Notes(reported));
            AtomicFile.Write(page, s => s.Write(Encoding.UTF8.GetBytes(html)));
            Console.Out.WriteLine(page);
            return 0;
        });
        return cmd;
    }

    /// <summary>What the page lacks and why, so an empty chart is not a mystery.</summary>
    static List<string> Notes(IReadOnlyList<ReportedRun> runs)
    {
        var notes = new List<string>();
        foreach (var run in runs)
        {
            if (run.History.Train.Count == 0) notes.Add($"{run.Name}: no training steps logged yet.");
            if (run.History.Valid.Count == 0) notes.Add($"{run.Name}: no validation records (a run without validation data).");
        }
        notes.AddRange(runs.SelectMany(r => r.History.Warnings));
        return notes;
    }
}
