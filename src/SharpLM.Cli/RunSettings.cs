using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace SharpLM.Cli;

/// <summary>
/// The settings of a command (`pretrain`, `finetune`, `tokenizer train`): each option's value, under the option's name.
/// A run folder keeps its run's effective settings, defaults included, in <c>run.yaml</c> (<see cref="RunSettingsFile"/>),
/// with fingerprints of the tokenizer and data; `--config` reads the same form, so a run's saved settings and a
/// hand-written config are one thing. <see cref="Complete"/> fills a command line from them for `--config` and for
/// `--resume` alike.
/// </summary>
sealed class RunSettings
{
    public const string FileName = "run.yaml";

    /// <summary>Where the run goes, how it is resumed and where its settings came from are not settings of the run.</summary>
    static readonly HashSet<string> NotRecorded = ["--resume", "--overwrite", "--output", RunConfig.OptionName, ResumeSettings.AllowChangesName];

    /// <summary>Options naming files or folders, recorded as full paths so that a resume or a rerun from elsewhere finds them.</summary>
    static readonly HashSet<string> PathOptions = ["--data", "--valid", "--test", "--valid-text", "--tokenizer", "--model-config", "--model"];

    static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>The command, without the program's name: "pretrain", "tokenizer train".</summary>
    public required string Command { get; init; }

    /// <summary>Option name (<c>--seq-len</c>) to value, in the command's order of options.</summary>
    public Dictionary<string, JsonNode?> Settings { get; } = [];

    /// <summary>"tokenizer" and "data" to their SHA-256 (<see cref="Fingerprint"/>).</summary>
    public Dictionary<string, string> Fingerprints { get; } = [];

    /// <summary>The file the settings were read from, and each setting's line there (for messages).</summary>
    public string? Source { get; init; }

    public Dictionary<string, int> Lines { get; } = [];

    /// <summary>The settings of a parsed command line: every option with a value, given or default.</summary>
    public static RunSettings Capture(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var settings = new RunSettings { Command = NameOf(command) };
        foreach (var option in command.Options)
        {
            if (NotRecorded.Contains(option.Name) || parse.GetResult(option) is not { } result) continue;
            var value = result.GetValueOrDefault<object?>();
            if (PathOptions.Contains(option.Name))
                value = value switch { string s => Absolute(s), string[] a => a.Select(Absolute).ToArray(), _ => value };
            settings.Set(option.Name, value);
        }
        return settings;
    }

    /// <summary>A path made absolute, so the run can be repeated from elsewhere; a Hub id stays an id.</summary>
    static string Absolute(string path) => HubInputs.IsHubId(path) ? path : Path.GetFullPath(path);

    /// <summary>Records <paramref name="value"/> as the effective value of an option (one the command adjusts after parsing).</summary>
    public void Set(string option, object? value) => Settings[option] = JsonSerializer.SerializeToNode(value, Json);

    /// <summary>The run folder's settings, or null when it has none (a run started before they were saved).</summary>
    public static RunSettings? Load(string folder, Command command)
    {
        var path = Path.Combine(folder, FileName);
        return File.Exists(path) ? RunSettingsFile.Read(path, command) : null;
    }

    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        RunSettingsFile.Write(this, Path.Combine(folder, FileName));
    }

    /// <summary>The command line with these settings added for every option it does not give itself (a list given there
    /// replaces the setting's list). A setting the option cannot take fails naming the setting, where it was read and
    /// what the option expects; other parse errors are left in the result.</summary>
    public ParseResult Complete(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var added = new Dictionary<Option, string>();
        var tokens = new List<string>();
        foreach (var name in Settings.Keys)
        {
            var option = command.Options.First(o => o.Name == name); // RunSettingsFile accepts only the command's options
            if (parse.GetResult(option) is { Implicit: false }) continue;
            added[option] = name;
            tokens.AddRange(Tokens(name));
        }
        if (added.Count == 0) return parse;
        var completed = parse.RootCommandResult.Command.Parse([.. parse.Tokens.Select(t => t.Value), .. tokens]);
        foreach (var error in completed.Errors)
            if (error.SymbolResult is OptionResult { Option: var option } && added.TryGetValue(option, out var name))
                throw new SharpLMException($"{Where(name)}{Key(name)}: expected {RunSettingsFile.Expected(option)}, " +
                                           $"got {string.Join(", ", Values(name))}");
        return completed;
    }

    /// <summary>The command-line tokens that give <paramref name="option"/> its recorded value: <c>--name=value</c>, so that
    /// a value starting with '-' or '@' stays a value.</summary>
    public IEnumerable<string> Tokens(string option) =>
        Values(option).SelectMany(v => v.Length == 0 ? new[] { option, v } : [$"{option}={v}"]);

    /// <summary>The recorded value as the command line spells it (one text per list item): what resume compares.</summary>
    public IReadOnlyList<string> Values(string option) => Settings.GetValueOrDefault(option) switch
    {
        null => [],
        JsonArray items => [.. items.Select(Text)],
        var value => [Text(value)],
    };

    /// <summary>"run.yaml line 4: " for a setting read from a file.</summary>
    public string Where(string option) => Source is null ? "" : $"{Source} line {Lines.GetValueOrDefault(option)}: ";

    /// <summary>How a setting is named in run.yaml: the option's name without its dashes.</summary>
    public static string Key(string option) => option.TrimStart('-');

    /// <summary>A command's name without the program's: "pretrain", "tokenizer train".</summary>
    public static string NameOf(Command command)
    {
        var names = new List<string>();
        for (var c = command; c.Parents.OfType<Command>().FirstOrDefault() is { } parent; c = parent) names.Insert(0, c.Name);
        return string.Join(' ', names);
    }

    static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };
}
