using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpLM.IO;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace SharpLM.Cli;

/// <summary>
/// <see cref="RunSettings"/> as a YAML (or JSON) file: each option under its name without the dashes (<c>seq-len: 256</c>),
/// a list for an option that takes several values, <c>true</c>/<c>false</c> for switches; <c>command:</c> and
/// <c>fingerprints:</c> are what a run folder's run.yaml adds. Anything else is refused naming the file, line and key.
/// </summary>
static class RunSettingsFile
{
    const string CommandKey = "command", FingerprintsKey = "fingerprints";

    /// <summary>Far above any real config: a larger file is a mistake, not something to read.</summary>
    const long MaxBytes = 1 << 20;

    /// <summary>Keys of a Hugging Face config.json, which is not a run config.</summary>
    static readonly HashSet<string> ModelConfigKeys = ["architectures", "model_type", "hidden_size", "num_hidden_layers", "vocab_size"];

    static readonly Regex Integer = new(@"^[-+]?[0-9]+$"), Float = new(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$");

    /// <summary>Reads the settings at <paramref name="path"/> for <paramref name="command"/>, checking every key against
    /// its options and the shape of every value (a list only where the option takes several values, switches true or
    /// false); whether a value fits the option's type is checked when the command line is completed.</summary>
    public static RunSettings Read(string path, Command command)
    {
        var root = Parse(path);
        var name = RunSettings.NameOf(command);
        var settings = new RunSettings { Command = name, Source = path };
        if (root is null) return settings;
        var entries = root.Children.Select(e => (Key: e.Key as YamlScalarNode ?? throw Error(path, e.Key, "a key must be an option's name"),
            e.Value)).ToList();
        // The command first: another command's settings would otherwise fail on its first option this one lacks.
        foreach (var (key, value) in entries.Where(e => e.Key.Value == CommandKey))
            if (value is not YamlScalarNode { Value: var saved } || saved != name)
                throw Error(path, key, $"these are the settings of `sharplm {(value as YamlScalarNode)?.Value}`, not of `sharplm {name}`");
        foreach (var (key, value) in entries.Where(e => e.Key.Value != CommandKey))
        {
            var keyText = key.Value ?? "";
            if (keyText == FingerprintsKey)
            {
                foreach (var (kind, hash) in value as YamlMappingNode ?? throw Error(path, key, "expected a mapping of kind to SHA-256"))
                    settings.Fingerprints[(kind as YamlScalarNode)?.Value ?? throw Error(path, kind, "expected a kind (data, tokenizer)")] =
                        (hash as YamlScalarNode)?.Value ?? throw Error(path, hash, "expected a SHA-256");
                continue;
            }
            var option = Find(command, keyText) ?? throw Error(path, key, Unknown(command, keyText));
            if (option is RunConfig) throw Error(path, key, "a config cannot name another one (give --config on the command line)");
            if (settings.Lines.TryGetValue(option.Name, out var earlier))
                throw Error(path, key, $"{keyText} sets {option.Name} again (line {earlier} set it already)");
            if (ValueOf(path, keyText, value, option) is not { } node) continue; // `key:` alone or null: not set
            settings.Settings[option.Name] = node;
            settings.Lines[option.Name] = (int)key.Start.Line;
        }
        return settings;
    }

    /// <summary>Writes <paramref name="settings"/> as YAML (atomically), with a header saying how to use the file.</summary>
    public static void Write(RunSettings settings, string path) => AtomicFile.Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
        var command = $"sharplm {settings.Command}";
        writer.WriteLine($"# The settings of this `{command}` run, defaults included. `{command} --config {RunSettings.FileName}");
        writer.WriteLine("# --output OTHER_FOLDER` runs it again (options given there win); `--output THIS_FOLDER --resume` continues it.");
        var emitter = new Emitter(writer);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        emitter.Emit(new MappingStart());
        Emit(emitter, CommandKey);
        Emit(emitter, settings.Command);
        foreach (var (option, value) in settings.Settings.Where(s => s.Value is not null))
        {
            Emit(emitter, RunSettings.Key(option));
            if (value is JsonArray items)
            {
                emitter.Emit(new SequenceStart(null, null, isImplicit: true, SequenceStyle.Block));
                foreach (var item in items) Emit(emitter, item);
                emitter.Emit(new SequenceEnd());
            }
            else Emit(emitter, value);
        }
        if (settings.Fingerprints.Count > 0)
        {
            Emit(emitter, FingerprintsKey);
            emitter.Emit(new MappingStart());
            foreach (var (kind, hash) in settings.Fingerprints)
            {
                Emit(emitter, kind);
                Emit(emitter, hash);
            }
            emitter.Emit(new MappingEnd());
        }
        emitter.Emit(new MappingEnd());
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
    });

    /// <summary>What an option takes, in words: "a whole number", "a list of text values".</summary>
    public static string Expected(Option option)
    {
        var type = option.ValueType;
        bool list = type.IsArray;
        if (list) type = type.GetElementType()!;
        type = Nullable.GetUnderlyingType(type) ?? type;
        var one = type == typeof(bool) ? "true or false"
            : type == typeof(int) || type == typeof(long) ? "a whole number"
            : type == typeof(double) || type == typeof(float) ? "a number"
            : type.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(type))}"
            : "text";
        return list ? $"a list of {(one == "text" ? "text values" : "values, each " + one)}" : one;
    }

    /// <summary>The document's top-level mapping (null for a file with no document, e.g. only comments).</summary>
    static YamlMappingNode? Parse(string path)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(InputFile.ReadAllBytes(path, "run config", MaxBytes));
        }
        catch (DecoderFallbackException)
        {
            throw new SharpLMException($"{path}: not UTF-8 text");
        }
        // JSON is YAML, except that YAML refuses tab indentation; a JSON string cannot hold a raw tab, so every tab is layout.
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) text = text.Replace('\t', ' ');
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new SharpLMException($"{path} line {e.Start.Line}: {(e.InnerException ?? e).Message}");
        }
        if (yaml.Documents.Count > 1) throw new SharpLMException($"{path}: expected one YAML document, found {yaml.Documents.Count}");
        if (yaml.Documents.Count == 0) return null;
        return yaml.Documents[0].RootNode switch
        {
            YamlMappingNode mapping => mapping,
            YamlScalarNode { Value: "" or null, Style: ScalarStyle.Plain } => null,
            var other => throw Error(path, other, $"expected option names with their values (seq-len: 256), found {Describe(other)}"),
        };
    }

    /// <summary>The option <paramref name="key"/> names: its name or one of its long aliases, without the dashes.</summary>
    static Option? Find(Command command, string key) =>
        key.StartsWith('-') ? null : command.Options.FirstOrDefault(o => o.Name == "--" + key || o.Aliases.Contains("--" + key));

    static string Unknown(Command command, string key)
    {
        var names = command.Options.Select(o => o.Name).Where(n => n.StartsWith("--") && n != RunConfig.OptionName).Select(RunSettings.Key).ToList();
        var closest = UsageErrors.Closest(key, names);
        var hint = closest is not null ? $"; did you mean {closest}?"
            : ModelConfigKeys.Contains(key) && command.Options.Any(o => o.Name == "--model-config")
                ? "; a model's config.json (its architecture) goes to --model-config"
                : "";
        return $"`sharplm {RunSettings.NameOf(command)}` has no option {key}{hint} (`sharplm {RunSettings.NameOf(command)} --help` lists them)";
    }

    /// <summary>The value of one setting: a list for an option of several values (one value becomes a list of one), else a
    /// single value; null when left empty.</summary>
    static JsonNode? ValueOf(string path, string key, YamlNode value, Option option)
    {
        bool list = option.Arity.MaximumNumberOfValues > 1;
        SharpLMException Wrong() => Error(path, value, $"{key}: expected {Expected(option)}, got {Describe(value)}");
        switch (value)
        {
            case YamlScalarNode scalar:
                if (Resolve(scalar) is not { } resolved) return null;
                bool isSwitch = (Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType) == typeof(bool);
                if (isSwitch && resolved.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
                    throw Wrong();
                return list ? new JsonArray(resolved) : resolved;
            case YamlSequenceNode items when list:
                return new JsonArray([.. items.Select(item => item is YamlScalarNode s && Resolve(s) is { } v ? v : throw Wrong())]);
            default:
                throw Wrong();
        }
    }

    /// <summary>A scalar's value under YAML 1.2's core schema: quoted text is text; plain text may be null, a boolean, a
    /// whole number or a number (so that <c>lr: 1e-3</c> and a saved <c>lr: 0.001</c> are the same setting).</summary>
    static JsonNode? Resolve(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain) return JsonValue.Create(text);
        if (text is "" or "~" or "null" or "Null" or "NULL") return null;
        if (text is "true" or "True" or "TRUE") return JsonValue.Create(true);
        if (text is "false" or "False" or "FALSE") return JsonValue.Create(false);
        if (Integer.IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
            return JsonValue.Create(whole);
        if (Float.IsMatch(text)) return JsonValue.Create(double.Parse(text, CultureInfo.InvariantCulture));
        return JsonValue.Create(text);
    }

    static void Emit(IEmitter emitter, string text) => emitter.Emit(new Scalar(null, null, text,
        Resolve(new YamlScalarNode(text) { Style = ScalarStyle.Plain }) is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? ScalarStyle.Any // the emitter quotes it if YAML needs that
            : ScalarStyle.DoubleQuoted, // "123", "true", "": text that would read back as a number, a boolean or null
        isPlainImplicit: true, isQuotedImplicit: true));

    static void Emit(IEmitter emitter, JsonNode? value)
    {
        if (value is JsonValue v && v.GetValueKind() == JsonValueKind.String) Emit(emitter, v.GetValue<string>());
        else emitter.Emit(new Scalar(null, null, value?.ToJsonString() ?? "~", ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));
    }

    static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode s => s.Value ?? "",
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ => node.NodeType.ToString(),
    };

    static SharpLMException Error(string path, YamlNode node, string message) => new($"{path} line {node.Start.Line}: {message}");
}
