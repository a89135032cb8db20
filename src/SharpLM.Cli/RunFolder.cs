using System.Text.Json;
using SharpLM.Training;

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
            .Where(p => Path.GetFileName(p) is var n && (n.StartsWith("checkpoint-") || n == FinalFolder || n == MetricsLog.FileName || n == "run.json" || n.EndsWith(".partial") || (n.StartsWith("skipped-") && n.EndsWith(".log"))))
            .ToList();
        if (ours.Count == 0) return;
        if (!overwrite)
            throw new SharpLMException($"{folder} already holds a training run ({string.Join(", ", ours.Select(Path.GetFileName).Order().Take(3))}); " +
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
        var record = new { command, args, started = DateTimeOffset.Now.ToString("O"), sharplm = typeof(RunFolder).Assembly.GetName().Version?.ToString() };
        File.WriteAllText(Path.Combine(folder, "run.json"), JsonSerializer.Serialize(record, new JsonSerializerOptions { WriteIndented = true }));
    }
}
