using SharpLM.Hub;
using SharpLM.Training;

namespace SharpLM.Reporting;

/// <summary>What a report shows of one run folder: its metrics, settings and, for a fine-tune, the model card's
/// before/after evaluation.</summary>
public sealed record ReportedRun(
    string Name, string Folder, RunHistory History, RunSummary Summary, string? Command,
    IReadOnlyList<(string Name, string Value)> Settings, IReadOnlyList<string[]> Evaluation)
{
    public const string FinalFolder = "final";

    public static ReportedRun Load(string folder, string name)
    {
        if (!Directory.Exists(folder)) throw new SharpLMException($"{folder}: no such run folder");
        var metrics = Path.Combine(folder, MetricsLog.FileName);
        if (!File.Exists(metrics))
        {
            // A model folder inside a run (final/, checkpoint-N/) is an easy thing to pass by mistake.
            var parent = Path.GetDirectoryName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar));
            var hint = parent is not null && File.Exists(Path.Combine(parent, MetricsLog.FileName)) ? $"; its run folder is {parent}" : "";
            throw new SharpLMException($"{folder} is not a training run: it has no {MetricsLog.FileName}, the log every run writes{hint}");
        }
        var history = RunHistory.Load(metrics);
        var recorded = RecordedSettings.Load(folder);
        return new ReportedRun(name, folder, history, RunSummary.Of(history), recorded?.Command, recorded?.Settings ?? [],
            ModelCardEvaluation.Read(Path.Combine(folder, FinalFolder, ModelCard.FileName)));
    }

    /// <summary>Runs named by their folders' names, with as many parent folders as it takes to tell them apart.</summary>
    public static List<ReportedRun> LoadAll(IReadOnlyList<string> folders)
    {
        var parts = folders.Select(f => Path.GetFullPath(f).TrimEnd(Path.DirectorySeparatorChar).Split(Path.DirectorySeparatorChar)).ToList();
        var names = new string[folders.Count];
        for (int depth = 1; ; depth++)
        {
            for (int i = 0; i < names.Length; i++) names[i] = string.Join('/', parts[i].TakeLast(depth));
            if (names.Distinct().Count() == names.Length || depth > parts.Max(p => p.Length)) break;
        }
        for (int i = 0; i < names.Length; i++)
            if (names.Take(i).Contains(names[i])) names[i] += $" ({i + 1})"; // the same folder twice
        return [.. folders.Select((f, i) => Load(f, names[i]))];
    }
}
