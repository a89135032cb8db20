using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using SharpLM.IO;

namespace SharpLM.Cli;

/// <summary>
/// <c>run-settings.json</c> in a run folder: the effective value of every option of the command that started (or last
/// resumed) the run, which of them were given on the command line, and fingerprints of the tokenizer and data. It lets
/// <c>--resume</c> alone continue a run, and tells a resume whose settings differ from an exact continuation.
/// </summary>
sealed class RunSettings
{
    public const string FileName = "run-settings.json";

    /// <summary>Where the run goes and how it is resumed are not settings of the run.</summary>
    static readonly HashSet<string> NotRecorded = ["--resume", "--overwrite", "--output", ResumeSettings.AllowChangesName];

    /// <summary>Options naming files or folders, recorded as full paths so a resume from another folder finds them.</summary>
    static readonly HashSet<string> PathOptions = ["--data", "--valid", "--test", "--valid-text", "--tokenizer", "--config", "--model"];

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    [JsonPropertyName("command")] public string Command { get; set; } = "";

    /// <summary>The options given on the command line (the rest took their defaults): what a resume replays.</summary>
    [JsonPropertyName("given")] public List<string> Given { get; set; } = [];

    /// <summary>Option name to effective value.</summary>
    [JsonPropertyName("settings")] public Dictionary<string, JsonNode?> Settings { get; set; } = [];

    /// <summary>"tokenizer" and "data" to their SHA-256 (<see cref="Fingerprint"/>).</summary>
    [JsonPropertyName("fingerprints")] public Dictionary<string, string> Fingerprints { get; set; } = [];

    /// <summary>The settings of a parsed command line.</summary>
    public static RunSettings Capture(string command, ParseResult parse)
    {
        var settings = new RunSettings { Command = command };
        foreach (var option in parse.CommandResult.Command.Options)
        {
            if (NotRecorded.Contains(option.Name) || parse.GetResult(option) is not { } result) continue;
            if (!result.Implicit) settings.Given.Add(option.Name);
            var value = result.GetValueOrDefault<object?>();
            if (PathOptions.Contains(option.Name))
                value = value switch { string s => Path.GetFullPath(s), string[] a => a.Select(Path.GetFullPath).ToArray(), _ => value };
            settings.Set(option.Name, value);
        }
        return settings;
    }

    /// <summary>Records <paramref name="value"/> as the effective value of an option (one the command adjusts after parsing).</summary>
    public void Set(string option, object? value) => Settings[option] = JsonSerializer.SerializeToNode(value, Json);

    /// <summary>The run folder's settings, or null when it has none (a run started before they were saved).</summary>
    public static RunSettings? Load(string folder)
    {
        var path = Path.Combine(folder, FileName);
        return File.Exists(path) ? JsonFile.Read<RunSettings>(path, "run settings", Json) : null;
    }

    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.Write(Path.Combine(folder, FileName), s => JsonSerializer.Serialize(s, this, Json));
    }

    /// <summary>The command-line tokens that give <paramref name="option"/> its recorded value.</summary>
    public IEnumerable<string> Tokens(string option)
    {
        if (!Settings.TryGetValue(option, out var value) || value is null) return [];
        return value switch
        {
            JsonArray items => items.SelectMany(item => new[] { option, Text(item) }),
            _ => [option, Text(value)],
        };
    }

    static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };
}
