using System.Text.Json;
using SharpLM.Chat.Jinja;
using SharpLM.Tokenization;

namespace SharpLM.Chat;

/// <summary>
/// A model's own Hugging Face chat template: the Jinja <c>chat_template</c> of its <c>tokenizer_config.json</c> (or of
/// chat_template.jinja / chat_template.json beside it), rendered by SharpLM's Jinja engine with the special-token
/// strings named there, as <c>tokenizer.apply_chat_template</c> does. Its <see cref="Name"/> is <see cref="ModelsOwnName"/>.
/// </summary>
/// <remarks>
/// To mark the answers, growing prefixes of the conversation are rendered: the text up to assistant turn i with the
/// generation prompt, then the text with turn i; what turn i adds is the answer and its end, the rest is prompt. A
/// template that renders an earlier turn differently once later turns follow cannot be split this way and is refused
/// with a message. The rendered text is tokenized with special-token strings recognised, in the template and in message
/// content alike (as transformers does).
/// </remarks>
public sealed class JinjaChatTemplate : ChatTemplate
{
    /// <summary>The name of every model's own template.</summary>
    public const string ModelsOwnName = "chat_template";

    readonly Jinja.JinjaTemplate template;
    readonly Dictionary<string, object?> specialTokens;
    readonly IReadOnlyDictionary<string, object?> variables;

    JinjaChatTemplate(string source, string origin, Jinja.JinjaTemplate template, Dictionary<string, object?> specialTokens,
        IReadOnlyDictionary<string, object?>? variables = null)
    {
        (JinjaTemplate, Origin, this.template, this.specialTokens, this.variables) =
            (source, origin, template, specialTokens, variables ?? new Dictionary<string, object?>());
        // The end token as text too: with a tokenizer that lacks it as a special token, it arrives as plain text.
        StopStrings = specialTokens.TryGetValue("eos_token", out var eos) && eos is string { Length: > 0 } end ? [end] : [];
    }

    public override string Name => ModelsOwnName;

    public override IReadOnlyList<string> StopStrings { get; }

    /// <summary>The Jinja text, as found in the model folder.</summary>
    public override string JinjaTemplate { get; }

    /// <summary>The same template rendered with extra variables, as apply_chat_template's keyword arguments
    /// (e.g. Qwen3's <c>enable_thinking</c>); later values win.</summary>
    public override ChatTemplate WithVariables(IReadOnlyDictionary<string, object?> extra) =>
        extra.Count == 0 ? this
        : new JinjaChatTemplate(JinjaTemplate, Origin, template, specialTokens,
            variables.Concat(extra).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value));

    /// <summary>The same template rendered within other bounds.</summary>
    public override ChatTemplate WithLimits(JinjaLimits limits) =>
        new JinjaChatTemplate(JinjaTemplate, Origin, template.WithLimits(limits), specialTokens, variables);

    /// <summary>The bounds of every render: the template is untrusted input.</summary>
    public JinjaLimits Limits => template.Limits;

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
    internal static JinjaChatTemplate? FromModelFolder(string folder)
    {
        string configPath = Path.Combine(folder, TokenizerConfigFile.FileName);
        using var config = File.Exists(configPath) ? IO.JsonFile.Read(configPath, TokenizerConfigFile.FileName) : null;
        var root = config?.RootElement ?? default;
        if ((SeparateSource(folder) ?? ConfigSource(root, configPath)) is not var (source, path)) return null;
        var tokens = root.ValueKind == JsonValueKind.Object
            ? TokenizerConfigFile.SpecialTokens(root).ToDictionary(t => t.Key, t => (object?)t.Value)
            : [];
        try
        {
            return new JinjaChatTemplate(source, path, Jinja.JinjaTemplate.Parse(source), tokens);
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
        using var json = IO.JsonFile.Read(jsonPath, "chat template");
        return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("chat_template", out var t)
               && t.ValueKind == JsonValueKind.String
            ? (t.GetString()!, jsonPath)
            : throw new SharpLMException($"{jsonPath}: expected an object with a string \"chat_template\"");
    }

    static (string Source, string Path)? ConfigSource(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("chat_template", out var chat) || chat.ValueKind == JsonValueKind.Null)
            return null;
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
    string RenderText(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, CancellationToken cancel = default)
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

    /// <summary>Writes the template and its special-token strings to the folder's <c>tokenizer_config.json</c> (SharpLM's
    /// template file, chat_template.jinja and chat_template.json there are removed: they would be read first).</summary>
    public override void Save(string modelFolder)
    {
        foreach (var stale in (string[])[.. SeparateFiles, PartsChatTemplate.FileName]) File.Delete(Path.Combine(modelFolder, stale));
        ChatTemplateFile.WriteHuggingFaceConfig(modelFolder, JinjaTemplate, specialTokens);
    }

    private protected override int[] Prompt(ITokenizer tokenizer, IReadOnlyList<ChatMessage> messagesSoFar, CancellationToken cancel) =>
        tokenizer.Encode(RenderText(messagesSoFar, addGenerationPrompt: true, cancel), allowSpecial: true);

    public override RenderedConversation Render(ITokenizer tokenizer, Conversation conversation)
    {
        var messages = conversation.Messages;
        var ids = new List<int>();
        var inAnswer = new List<bool>();
        string done = "";
        void Add(string text, bool answer)
        {
            var part = text.Length == 0 ? [] : tokenizer.Encode(text, allowSpecial: true);
            ids.AddRange(part);
            inAnswer.AddRange(Enumerable.Repeat(answer, part.Length));
        }
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != ChatMessage.AssistantRole) continue;
            var prompt = RenderText(messages.Take(i).ToList(), addGenerationPrompt: true);
            var answered = RenderText(messages.Take(i + 1).ToList(), addGenerationPrompt: false);
            Add(Extension(done, prompt, i, conversation.Source), answer: false);
            Add(Extension(prompt, answered, i, conversation.Source), answer: true);
            done = answered;
        }
        return new RenderedConversation(ids.ToArray(), inAnswer.ToArray());
    }

    /// <summary>What <paramref name="longer"/> adds to <paramref name="shorter"/>, which it must start with.</summary>
    static string Extension(string shorter, string longer, int turn, string source)
    {
        if (longer.StartsWith(shorter, StringComparison.Ordinal)) return longer[shorter.Length..];
        throw new SharpLMException($"{(source.Length > 0 ? source + ": " : "")}the model's chat_template renders the conversation " +
            $"before messages[{turn}] differently once that message follows, so SharpLM cannot tell which tokens are the answer " +
            "to train on; use the chatml template (the template setting) or another SharpLM template instead");
    }
}
