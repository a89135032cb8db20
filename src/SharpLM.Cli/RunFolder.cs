using System.Text.Json;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>The output folder of a training run: refuses to clobber an earlier run unless asked, and records how
/// the run was started.</summary>
static class RunFolder
{
    public const string FinalFolder = "final";

    /// <summary>Checks the folder before a fresh (not resumed) run. With <paramref name="overwrite"/>, removes only
    /// what SharpLM itself writes there (checkpoints, final model, metrics).</summary>
    public static void PrepareFresh(string folder, bool overwrite)
    {
        if (!Directory.Exists(folder)) return;
        var ours = Directory.EnumerateFileSystemEntries(folder)
            .Where(p => Path.GetFileName(p) is var n
                        && (n.StartsWith("checkpoint-") || n == FinalFolder || n == MetricsLog.FileName || n == "run.json"
                            || n == RunSettings.FileName || n == "run-settings.json" // an older SharpLM's name for it
                            || n == CsvMetricsLog.FileName || n.StartsWith(TensorBoardLog.FilePrefix)
                            || n.EndsWith(".partial") || (n.StartsWith("skipped-") && n.EndsWith(".log"))))
            .ToList();
        if (ours.Count == 0) return;
        if (!overwrite)
            throw new SharpLMException($"{folder} already holds a training run " +
                                       $"({string.Join(", ", ours.Select(Path.GetFileName).Order().Take(3))}); " +
                                       "pass --resume to continue it, --overwrite to start over, or choose another --output");
        foreach (var p in ours)
        {
            if (Directory.Exists(p)) Directory.Delete(p, recursive: true);
            else File.Delete(p);
        }
    }

    public static void RecordCommand(string folder, string command, string[] args)
    {
        Directory.CreateDirectory(folder);
        var record = new
        {
            command,
            args,
            started = DateTimeOffset.Now.ToString("O"),
            sharplm = typeof(RunFolder).Assembly.GetName().Version?.ToString(),
        };
        File.WriteAllText(Path.Combine(folder, "run.json"), JsonSerializer.Serialize(record, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The checkpoint `--resume` continues from: the newest complete and consistent one. Each newer one that
    /// is not is named with the reason, so a fallback is never silent.</summary>
    public static CheckpointManager.ResumePoint FindCheckpoint(string folder)
    {
        var point = CheckpointManager.FindResumePoint(folder, out var skipped);
        foreach (var (checkpoint, reason) in skipped)
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipping {checkpoint}:[/] {reason}");
        if (point is not null)
        {
            if (skipped.Count > 0) AnsiConsole.MarkupLineInterpolated($"[yellow]resuming from the newest good checkpoint, {point.Checkpoint}[/]");
            return point;
        }
        var hint = skipped.Count > 0 ? "" // the reasons are above
            : Directory.Exists(Path.Combine(folder, FinalFolder))
                ? $" ({FinalFolder}/ is there: a run with --keep-checkpoints 0 deletes its checkpoints when it finishes)"
                : "";
        throw new SharpLMException($"--resume: no usable checkpoint in {folder}{hint}");
    }

    /// <summary>Restores <paramref name="point"/>; when it does not fit this run, the error also names the previous
    /// good checkpoint.</summary>
    public static void Restore(CheckpointManager checkpoints, Trainer trainer, CheckpointManager.ResumePoint point, bool allowChanges)
    {
        try
        {
            checkpoints.Restore(trainer, point.Checkpoint, allowChanges);
        }
        catch (TrainingOptionsChangedException e)
        {
            throw new SharpLMException($"--resume: {e.Message} (pass {ResumeSettings.AllowChangesName})", e);
        }
        catch (SharpLMException e) when (point.Previous is not null)
        {
            throw new SharpLMException($"{e.Message} (the previous good checkpoint is {point.Previous})", e);
        }
    }
}
