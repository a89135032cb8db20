using System.Text.Json;
using SharpLM.Data.Jinja;
using SharpLM.Tokenization;

namespace SharpLM.Data;

/// <summary>
/// A model's own Hugging Face chat template: the Jinja <c>chat_template</c> of its <c>tokenizer_config.json</c>,
/// rendered with the special-token strings named there, as <c>tokenizer.apply_chat_template</c> does.
/// </summary>
/// <remarks>
/// For training, the answer tokens are found by rendering growing prefixes of the conversation: the text up to
/// assistant turn i with the generation prompt, then the text with turn i; what turn i adds is the answer and its end
/// (trained), the rest is prompt (not trained). A template that renders an earlier turn differently once later turns
/// follow cannot be split this way and is refused with a message. The rendered text is tokenized with special-token
/// strings recognised, in the template and in message content alike (as transformers does).
/// </remarks>
sealed class HubChatTemplate
{
    readonly JinjaTemplate template;
    readonly Dictionary<string, object?> specialTokens;

    readonly IReadOnlyDictionary<string, object?> variables;

    HubChatTemplate(string source, string origin, JinjaTemplate template, Dictionary<string, object?> specialTokens, IReadOnlyDictionary<string, object?>? variables = null) =>
        (Source, Origin, this.template, this.specialTokens, this.variables) = (source, origin, template, specialTokens, variables ?? new Dictionary<string, object?>());

    /// <summary>The same template rendered with extra variables, as apply_chat_template's keyword arguments
    /// (e.g. Qwen3's <c>enable_thinking</c>); later values win.</summary>
    public HubChatTemplate WithVariables(IReadOnlyDictionary<string, object?> extra) =>
        new(Source, Origin, template, specialTokens, variables.Concat(extra).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value));

    /// <summary>The same template rendered within other bounds.</summary>
    public HubChatTemplate WithLimits(JinjaLimits limits) => new(Source, Origin, template.WithLimits(limits), specialTokens, variables);

    /// <summary>The bounds of every render: the template is untrusted input.</summary>
    public JinjaLimits Limits => template.Limits;

    /// <summary>The Jinja text, as found in the config.</summary>
    public string Source { get; }

    /// <summary>The file the template came from, for messages.</summary>
    public string Origin { get; }

    /// <summary>The special-token strings the template may use (bos_token, eos_token, ...); null where the config
    /// declares none (Qwen's bos_token), which is kept when saving.</summary>
    public IReadOnlyDictionary<string, object?> SpecialTokens => specialTokens;

    /// <summary>Where newer transformers versions save the template instead of tokenizer_config.json; read first,
    /// as transformers does.</summary>
    public static IReadOnlyList<string> SeparateFiles { get; } = ["chat_template.jinja", "chat_template.json"];

    /// <summary>The chat template of <paramref name="folder"/> (chat_template.jinja, chat_template.json, or the
    /// chat_template of tokenizer_config.json), or null when it has none.</summary>
    public static HubChatTemplate? FromModelFolder(string folder)
    {
        string configPath = Path.Combine(folder, TokenizerConfigFile.FileName);
        using var config = File.Exists(configPath) ? Formats.JsonFile.Read(configPath, TokenizerConfigFile.FileName) : null;
        var root = config?.RootElement ?? default;
        if ((SeparateSource(folder) ?? ConfigSource(root, configPath)) is not var (source, path)) return null;
        var tokens = root.ValueKind == JsonValueKind.Object
            ? TokenizerConfigFile.SpecialTokens(root).ToDictionary(t => t.Key, t => (object?)t.Value)
            : [];
        try
        {
            return new HubChatTemplate(source, path, JinjaTemplate.Parse(source), tokens);
        }
        catch (JinjaException e)
        {
            throw new SharpLMException($"{path}: chat_template {e.Message}; choose one of SharpLM's templates instead", e);
        }
    }

    static (string Source, string Path)? SeparateSource(string folder)
    {
        string jinjaPath = Path.Combine(folder, SeparateFiles[0]), jsonPath = Path.Combine(folder, SeparateFiles[1]);
        if (File.Exists(jinjaPath)) return (File.ReadAllText(jinjaPath), jinjaPath);
        if (!File.Exists(jsonPath)) return null;
        using var json = Formats.JsonFile.Read(jsonPath, "chat template");
        return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("chat_template", out var t) && t.ValueKind == JsonValueKind.String
            ? (t.GetString()!, jsonPath)
            : throw new SharpLMException($"{jsonPath}: expected an object with a string \"chat_template\"");
    }

    static (string Source, string Path)? ConfigSource(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("chat_template", out var chat) || chat.ValueKind == JsonValueKind.Null) return null;
        return (chat.ValueKind switch
        {
            JsonValueKind.String => chat.GetString()!,
            // Several named templates (e.g. "default" and "tool_use"): chats use "default".
            JsonValueKind.Array => chat.EnumerateArray().FirstOrDefault(t => t.TryGetProperty("name", out var n) && n.GetString() == "default")
                is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty("template", out var text) && text.ValueKind == JsonValueKind.String
                ? text.GetString()!
                : throw new SharpLMException($"{path}: chat_template is a list without a \"default\" template"),
            _ => throw new SharpLMException($"{path}: chat_template must be a string or a list of named templates"),
        }, path);
    }

    /// <summary>The template's text for <paramref name="messages"/>, with the assistant header at the end when
    /// <paramref name="addGenerationPrompt"/>. A render past one of <see cref="Limits"/> is refused naming the file
    /// and the limit; <paramref name="cancel"/> stops a render (a client that went away).</summary>
    public string RenderText(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, CancellationToken cancel = default)
    {
        // As transformers passes its special_tokens_map: tokens declared null are left out (undefined, not "None").
        var variables = new Dictionary<string, object?>(specialTokens.Where(t => t.Value is not null))
        {
            ["messages"] = messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        foreach (var name in new[] { "bos_token", "eos_token" }) variables.TryAdd(name, "");
        foreach (var (name, value) in this.variables)
        {
            if (name is "messages" or "add_generation_prompt")
                throw new SharpLMException($"template variable \"{name}\" is set by SharpLM itself and cannot be given");
            variables[name] = value;
        }
        try
        {
            return template.Render(variables, cancel: cancel);
        }
        catch (JinjaLimitException e)
        {
            throw new SharpLMException($"{Origin}: the chat_template was stopped at a limit: {e.Message}", e);
        }
        catch (JinjaException e)
        {
            throw new SharpLMException($"the model's chat_template refused the conversation: {e.Message}", e);
        }
    }

    public int[] RenderPrompt(ITokenizer tokenizer, IReadOnlyList<ChatMessage> messages, CancellationToken cancel = default) =>
        tokenizer.Encode(RenderText(messages, addGenerationPrompt: true, cancel), allowSpecial: true);

    public TemplatedExample Render(ITokenizer tokenizer, Conversation conversation, bool trainOnPrompt)
    {
        var messages = conversation.Messages;
        var ids = new List<int>();
        var trained = new List<bool>();
        string done = "";
        void Add(string text, bool train)
        {
            var part = text.Length == 0 ? [] : tokenizer.Encode(text, allowSpecial: true);
            ids.AddRange(part);
            trained.AddRange(Enumerable.Repeat(train || trainOnPrompt, part.Length));
        }
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != ChatMessage.AssistantRole) continue;
            var prompt = RenderText(messages.Take(i).ToList(), addGenerationPrompt: true);
            var answered = RenderText(messages.Take(i + 1).ToList(), addGenerationPrompt: false);
            Add(Extension(done, prompt, i, conversation.Source), train: false);
            Add(Extension(prompt, answered, i, conversation.Source), train: true);
            done = answered;
        }
        if (trained.Count > 0) trained[0] = false; // nothing predicts the first token
        return new TemplatedExample(ids.ToArray(), trained.ToArray()) { Source = conversation.Source };
    }

    /// <summary>What <paramref name="longer"/> adds to <paramref name="shorter"/>, which it must start with.</summary>
    static string Extension(string shorter, string longer, int turn, string source)
    {
        if (longer.StartsWith(shorter, StringComparison.Ordinal)) return longer[shorter.Length..];
        throw new SharpLMException($"{(source.Length > 0 ? source + ": " : "")}the model's chat_template renders the conversation before messages[{turn}] " +
            "differently once that message follows, so SharpLM cannot tell which tokens are the answer to train on; " +
            "pass --template chatml (or another SharpLM template) instead");
    }
}
