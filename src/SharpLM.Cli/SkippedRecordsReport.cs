using SharpLM.Data;
using SharpLM.IO;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>Says what --skip-invalid skipped: the first few records on screen, every one of them in a log file in the
/// run folder (when there is one).</summary>
static class SkippedRecordsReport
{
    public const int OnScreen = 5;

    /// <summary>The log's name for data read under <paramref name="label"/> ("training data" -> skipped-training-data.log).</summary>
    public static string LogFile(string label) => "skipped-" + label.Replace(' ', '-') + ".log";

    public static void Show(SkippedRecords skipped, string label, string? runFolder)
    {
        if (skipped.Count == 0) return;
        AnsiConsole.MarkupLineInterpolated($"[yellow]{label}: skipped {skipped.Count:N0} invalid record(s)[/]:");
        foreach (var message in skipped.Messages.Take(OnScreen)) AnsiConsole.MarkupLineInterpolated($"  {message}");
        if (runFolder is null)
        {
            if (skipped.Count > OnScreen) AnsiConsole.MarkupLineInterpolated($"  ... and {skipped.Count - OnScreen:N0} more");
            return;
        }
        Directory.CreateDirectory(runFolder);
        var log = Path.Combine(runFolder, LogFile(label));
        var lines = skipped.Messages.Select(m => m.ReplaceLineEndings(" ")).ToList();
        if (skipped.Count > lines.Count) lines.Add($"... and {skipped.Count - lines.Count:N0} more (not listed)");
        AtomicFile.Write(log, s => s.Write(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n")));
        AnsiConsole.MarkupLineInterpolated($"  all {skipped.Count:N0} are listed in {log}");
    }
}
