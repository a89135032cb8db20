using System.Text.Json;

namespace SharpLM.Reporting;

/// <summary>
/// The settings a run folder records, as option name (without dashes) to text, in the order they were written:
/// <c>run.yaml</c> (a map of option names; lists as "- item" lines and nested maps are joined into one text), else
/// <c>run-settings.json</c> ("settings" object), else the command line in <c>run.json</c> (runs older than both).
/// </summary>
public static class RecordedSettings
{
    public static readonly string[] FileNames = ["run.yaml", "run-settings.json", "run.json"];

    /// <summary>Options of a command line that say where a run goes and how it starts, not how it trains (the
    /// settings files leave them out too).</summary>
    static readonly HashSet<string> NotSettings = ["output", "o", "overwrite", "resume", "allow-changes"];

    /// <summary>The command (pretrain, finetune...) and its settings; null when the folder records none.</summary>
    public static (string? Command, List<(string Name, string Value)> Settings)? Load(string folder)
    {
        foreach (var name in FileNames)
        {
            var path = Path.Combine(folder, name);
            if (!File.Exists(path)) continue;
            return name switch
            {
                "run.yaml" => FromYaml(path),
                "run-settings.json" => FromSettingsJson(path),
                _ => FromCommandLine(path),
            };
        }
        return null;
    }

    static (string?, List<(string, string)>) FromYaml(string path)
    {
        var settings = new List<(string Name, string Value)>();
        string? command = null;
        var lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            var line = WithoutComment(lines[i]);
            if (line.Trim().Length == 0) continue;
            int colon = line.IndexOf(':');
            if ((char.IsWhiteSpace(line[0]) || line.StartsWith("- ")) && settings.Count > 0)
            {
                // A list item (indented or not, as YamlDotNet writes them) or a nested "key: value" belongs to the setting above it.
                var inner = line.Trim();
                var item = inner.StartsWith("- ") ? Unquote(inner[2..].Trim())
                    : inner.IndexOf(':') is > 0 and var c ? $"{inner[..c].Trim()}: {Unquote(inner[(c + 1)..].Trim())}" : Unquote(inner);
                var (key, value) = settings[^1];
                settings[^1] = (key, value.Length == 0 ? item : $"{value}, {item}");
                continue;
            }
            if (colon <= 0)
                throw new SharpLMException($"{path}:{i + 1}: expected \"name: value\", found \"{lines[i].Trim()}\"");
            var (name, text) = (line[..colon].Trim(), Unquote(line[(colon + 1)..].Trim()));
            if (name == "command") command = text;
            else settings.Add((name, text));
        }
        return (command, settings);
    }

    /// <summary>A "#" starts a comment unless it is inside quotes or glued to a word (a URL's fragment).</summary>
    static string WithoutComment(string line)
    {
        char? quote = null;
        for (int i = 0; i < line.Length; i++)
        {
            if (quote is not null) { if (line[i] == quote) quote = null; }
            else if (line[i] is '"' or '\'') quote = line[i];
            else if (line[i] == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1]))) return line[..i];
        }
        return line;
    }

    static string Unquote(string value)
    {
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            try { return JsonSerializer.Deserialize<string>(value) ?? ""; }
            catch (JsonException) { return value[1..^1]; }
        }
        if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'') return value[1..^1].Replace("''", "'");
        // An inline list: [a, b]
        if (value.Length >= 2 && value[0] == '[' && value[^1] == ']')
            return string.Join(", ", value[1..^1].Split(',').Select(item => Unquote(item.Trim())).Where(item => item.Length > 0));
        return value;
    }

    static (string?, List<(string, string)>) FromSettingsJson(string path)
    {
        using var doc = Parse(path);
        var root = doc.RootElement;
        var command = root.TryGetProperty("command", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        var settings = new List<(string, string)>();
        if (root.TryGetProperty("settings", out var map) && map.ValueKind == JsonValueKind.Object)
            foreach (var p in map.EnumerateObject()) settings.Add((p.Name.TrimStart('-'), Text(p.Value)));
        return (command, settings);
    }

    /// <summary>run.json's "args": "--name value" pairs, and "--flag" alone for a switch.</summary>
    static (string?, List<(string, string)>) FromCommandLine(string path)
    {
        using var doc = Parse(path);
        var root = doc.RootElement;
        var command = root.TryGetProperty("command", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        var args = root.TryGetProperty("args", out var a) && a.ValueKind == JsonValueKind.Array
            ? a.EnumerateArray().Select(Text).ToList() : [];
        var settings = new List<(string Name, string Value)>();
        for (int i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith('-')) continue; // the command's name
            var name = args[i].TrimStart('-');
            var value = i + 1 < args.Count && !args[i + 1].StartsWith("--") ? args[++i] : "true";
            if (NotSettings.Contains(name)) continue;
            int earlier = settings.FindIndex(s => s.Name == name);
            if (earlier >= 0) settings[earlier] = (name, $"{settings[earlier].Value}, {value}"); // a repeated option
            else settings.Add((name, value));
        }
        return (command, settings);
    }

    static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new SharpLMException($"{path}: not valid JSON ({e.Message})"); }
    }

    static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Array => string.Join(", ", value.EnumerateArray().Select(Text)),
        JsonValueKind.Null => "",
        _ => value.GetRawText(),
    };
}
