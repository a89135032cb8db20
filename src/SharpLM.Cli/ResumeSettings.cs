using System.CommandLine;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>
/// What `--resume` does with a run folder's saved settings (<see cref="RunSettings"/>): options not given again take
/// their saved values, so `--output runs/x --resume` alone continues a run; options given again win, but a change
/// that would make the result differ from an uninterrupted run (anything but the run's length and how it is watched,
/// checkpointed and saved), or a changed tokenizer or training data, is refused unless --allow-changes is given.
/// </summary>
sealed class ResumeSettings(Option<string> output, Option<bool> resume, params Option[] required)
{
    public const string AllowChangesName = "--allow-changes";

    /// <summary>Options whose change leaves every trained weight as an uninterrupted run would have it (the length of
    /// the run reshapes the schedule from the resume point on, which is what resuming with a new length asks for).</summary>
    static readonly HashSet<string> FreeToChange =
    [
        "--max-steps", "--epochs", "--valid", "--test", "--valid-text", "--exact-match", "--eval-every", "--eval-examples", "--checkpoint-every",
        "--keep-checkpoints", "--log-every", "--sample-prompt", "--sample-tokens", "--sample-every", "--report-to", "--save-dtype",
        "--max-shard-size", "--device", // the same steps elsewhere, up to floating-point rounding
    ];

    readonly Option<bool> allowChanges = new(AllowChangesName)
    {
        Description = "With --resume: accept settings, a tokenizer or training data that differ from the run's saved ones " +
                      "(each is named); the result then differs from an uninterrupted run.",
    };

    public void AddTo(Command cmd) => cmd.Options.Add(allowChanges);

    public bool AllowChanges(ParseResult parse) => parse.GetValue(allowChanges);

    /// <summary>The command line completed from the run folder's saved settings when resuming; checks that the
    /// required options have a value (from either).</summary>
    public ParseResult Complete(ParseResult parse)
    {
        bool resuming = parse.GetValue(resume);
        var saved = resuming ? RunSettings.Load(parse.GetValue(output)!, parse.CommandResult.Command) : null;
        if (saved is not null)
        {
            parse = saved.Complete(parse);
            if (parse.Errors.Count > 0)
                throw new SharpLMException($"--resume: the saved settings in {saved.Source} do not parse: " +
                                           string.Join("; ", parse.Errors.Select(e => e.Message)));
        }
        foreach (var option in required)
            if (parse.GetResult(option) is null)
                throw new SharpLMException($"{option.Name} is required" +
                                           (resuming ? $" (the run folder has no {RunSettings.FileName} to take it from)" : ""));
        return parse;
    }

    /// <summary>When resuming, compares <paramref name="current"/> with the saved settings: a change that breaks
    /// exactness is an error naming it, or with --allow-changes a warning.</summary>
    public void Check(ParseResult parse, RunSettings current)
    {
        if (!parse.GetValue(resume)) return;
        var folder = parse.GetValue(output)!;
        var saved = RunSettings.Load(folder, parse.CommandResult.Command);
        if (saved is null)
        {
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(folder)} has no {RunSettings.FileName} (an older run): " +
                                   "only its training options can be checked, not its data, tokenizer or other settings[/]");
            return;
        }
        var changes = new List<string>();
        foreach (var name in saved.Settings.Keys.Union(current.Settings.Keys).Where(n => !FreeToChange.Contains(n)).Order())
        {
            var (before, after) = (saved.Values(name), current.Values(name));
            if (!before.SequenceEqual(after))
                changes.Add($"{name} {Show(before)} -> {Show(after)}");
        }
        foreach (var (kind, what) in new[] { ("data", "the training data"), ("tokenizer", "the tokenizer") })
            if (saved.Fingerprints.TryGetValue(kind, out var before) && current.Fingerprints.TryGetValue(kind, out var after) && before != after)
                changes.Add($"{what} changed since the checkpoint ({kind} fingerprint {before[..12]} -> {after[..12]})");
        if (changes.Count == 0) return;
        if (!parse.GetValue(allowChanges))
            throw new SharpLMException("--resume: these differ from the run's saved settings " +
                                       $"({Path.Combine(folder, RunSettings.FileName)}), so the " +
                                       $"result would not match an uninterrupted run: {string.Join("; ", changes)}. Leave the options out to use " +
                                       $"the saved values, or pass {AllowChangesName} to continue anyway");
        AnsiConsole.MarkupLine($"[yellow]warning:[/] resuming with changes ({AllowChangesName}), so the result differs from an uninterrupted " +
                               $"run: {Markup.Escape(string.Join("; ", changes))}");
    }

    static string Show(IReadOnlyList<string> values) => values.Count == 0 ? "(not set)" : string.Join(" ", values);
}
