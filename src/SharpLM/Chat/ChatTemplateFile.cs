using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.IO;
using SharpLM.Tokenization;

namespace SharpLM.Chat;

/// <summary>
/// Reads and writes SharpLM's chat templates (<see cref="PartsChatTemplate"/>) as JSON (<c>sharplm_template.json</c> in a
/// model folder, or any file named as the template), and a template's Jinja form in <c>tokenizer_config.json</c>.
/// Example, the built-in ChatML template:
/// <code>
/// {
///   "name": "chatml",
///   "add_bos": true,
///   "system": "&lt;|im_start|&gt;system\n{content}&lt;|im_end|&gt;\n",
///   "user": "&lt;|im_start|&gt;user\n{content}&lt;|im_end|&gt;\n",
///   "assistant_start": "&lt;|im_start|&gt;assistant\n",
///   "assistant_end": "&lt;|im_end|&gt;",
///   "end_with_eos": false,
///   "after_assistant": "\n",
///   "stop_strings": ["&lt;|im_end|&gt;"]
/// }
/// </code>
/// <c>system</c>, <c>user</c> and <c>assistant_start</c> are required; <c>system</c> and <c>user</c> hold
/// <c>{content}</c> once. <c>name</c> defaults to the file name, <c>add_bos</c> to true, <c>assistant_end</c> and
/// <c>after_assistant</c> to "", <c>end_with_eos</c> to false (but answers need an end: <c>assistant_end</c> or
/// <c>end_with_eos</c>), <c>stop_strings</c> to none. Unknown fields are errors, so a typo cannot go unnoticed.
/// </summary>
internal static class ChatTemplateFile
{
    static readonly string[] Fields =
        ["name", "add_bos", "system", "user", "assistant_start", "assistant_end", "end_with_eos", "after_assistant", "stop_strings"];

    // Keeps <|im_start|> and non-ASCII text readable in the file.
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static PartsChatTemplate Read(string path)
    {
        using (var json = JsonFile.Read(path, "chat template"))
        {
            var root = JsonFile.RequireObject(json.RootElement, path, "a JSON object with the template parts");
            foreach (var property in root.EnumerateObject())
            {
                if (!Fields.Contains(property.Name))
                    throw new SharpLMException($"{path}: unknown field \"{property.Name}\" " +
                                               $"(expected {string.Join(", ", Fields.Select(f => $"\"{f}\""))})");
            }
            try
            {
                return new PartsChatTemplate(
                    String(root, "name", path, Path.GetFileNameWithoutExtension(path)),
                    String(root, "system", path), String(root, "user", path), String(root, "assistant_start", path),
                    String(root, "assistant_end", path, ""), Bool(root, "end_with_eos", path, false),
                    String(root, "after_assistant", path, ""), StopStrings(root, path), Bool(root, "add_bos", path, true));
            }
            catch (SharpLMException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
            {
                throw new SharpLMException($"{path}: {e.Message}", e);
            }
        }
    }

    public static void Write(PartsChatTemplate template, string path)
    {
        var json = new JsonObject
        {
            ["name"] = template.Name,
            ["add_bos"] = template.AddBos,
            ["system"] = template.SystemPart,
            ["user"] = template.UserPart,
            ["assistant_start"] = template.AssistantStart,
            ["assistant_end"] = template.AssistantEnd,
            ["end_with_eos"] = template.EndWithEos,
            ["after_assistant"] = template.AfterAssistant,
            ["stop_strings"] = new JsonArray(template.StopStrings.Select(s => (JsonNode?)s).ToArray()),
        };
        WriteJson(path, json);
    }

    /// <summary>Sets <c>chat_template</c> to <paramref name="jinja"/> in the folder's <c>tokenizer_config.json</c> (created
    /// when missing, other fields kept), adds <paramref name="specialTokens"/> it lacks and, when the folder has a
    /// tokenizer, names its bos/eos/pad tokens there, which the Jinja template uses.</summary>
    public static void WriteHuggingFaceConfig(string folder, string jinja, IReadOnlyDictionary<string, object?> specialTokens)
    {
        string path = Path.Combine(folder, TokenizerConfigFile.FileName);
        JsonObject config;
        if (!File.Exists(path))
            config = [];
        else
        {
            using var document = JsonFile.Read(path, Tokenization.TokenizerConfigFile.FileName);
            config = JsonObject.Create(JsonFile.RequireObject(document.RootElement, path).Clone())!;
        }
        config["chat_template"] = jinja;
        foreach (var (name, value) in specialTokens)
            if (!config.ContainsKey(name)) config[name] = value as string; // null stays null: "none"
        if (File.Exists(Path.Combine(folder, TokenizerJson.FileName)))
        {
            var tokenizer = TokenizerLoader.Load(folder);
            SetToken(config, "bos_token", tokenizer.Special.Bos, tokenizer);
            SetToken(config, "eos_token", tokenizer.Special.Eos, tokenizer);
            SetToken(config, "pad_token", tokenizer.Special.Pad, tokenizer);
        }
        WriteJson(path, config);
    }

    /// <summary>Names the token (or null for none), so reloading the folder gives the same roles.</summary>
    static void SetToken(JsonObject config, string key, int? id, ITokenizer tokenizer)
    {
        if (!config.ContainsKey(key)) config[key] = id is { } known ? tokenizer.IdToToken(known) : null;
    }

    static void WriteJson(string path, JsonNode json) =>
        AtomicFile.Write(path, stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString(Indented) + "\n")));

    static string String(JsonElement root, string field, string path, string? fallback = null)
    {
        if (!root.TryGetProperty(field, out var value))
            return fallback ?? throw JsonFile.Missing(field, path);
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw JsonFile.Wrong(value, field, "a string", path);
    }

    static bool Bool(JsonElement root, string field, string path, bool fallback)
    {
        if (!root.TryGetProperty(field, out var value)) return fallback;
        return value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : throw JsonFile.Wrong(value, field, "true or false", path);
    }

    static string[] StopStrings(JsonElement root, string path)
    {
        if (!root.TryGetProperty("stop_strings", out var value)) return [];
        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
            throw JsonFile.Wrong(value, "stop_strings", "an array of strings", path);
        return value.EnumerateArray().Select(v => v.GetString()!).ToArray();
    }
}
