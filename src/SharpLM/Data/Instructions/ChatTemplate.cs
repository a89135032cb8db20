using SharpLM.Data.Jinja;
using SharpLM.Tokenization;

namespace SharpLM.Data;

/// <summary>
/// How conversations become tokens, for training and for prompting alike. A template is a few text parts:
/// <c>SystemPart</c> and <c>UserPart</c> wrap a message's content (they hold a <c>{content}</c> placeholder); an assistant
/// turn is <c>AssistantStart</c>, the content, <c>AssistantEnd</c>, the tokenizer's end token when
/// <c>EndWithEos</c>, then <c>AfterAssistant</c>. The begin token comes first when <c>AddBos</c> and the
/// tokenizer has one.
/// </summary>
/// <remarks>
/// Template parts are trusted and encoded with special tokens recognised (so a tokenizer with <c>&lt;|im_start|&gt;</c>
/// as a special token uses it); message content is untrusted and never is. Every part and every content is encoded on
/// its own and the ids concatenated, so a prompt for generation is token for token the prefix that training saw.
/// By default only the assistant's content and its end (<c>AssistantEnd</c> and the end token) are trained, in every
/// assistant turn; the header before it, what follows it, system and user turns are not.
/// The JSON file format is described in <see cref="ChatTemplateFile"/> and docs/templates.md.
/// A model made elsewhere brings its own Jinja template instead (<see cref="IsModelsOwn"/>, see <see cref="HubChatTemplate"/>).
/// </remarks>
public sealed class ChatTemplate
{
    /// <summary>The file <see cref="Save"/> writes into a model folder.</summary>
    public const string FileName = "sharplm_template.json";

    /// <summary>The placeholder for a message's content in <see cref="SystemPart"/> and <see cref="UserPart"/>.</summary>
    public const string ContentPlaceholder = "{content}";

    /// <summary>SharpLM's own template (the Alpaca layout): answers end with the tokenizer's end token.</summary>
    public static ChatTemplate Default { get; } = new(
        "default", system: "{content}\n\n", user: "### Instruction:\n{content}\n\n", assistantStart: "### Response:\n",
        assistantEnd: "", endWithEos: true,
        // A model that has not learned the end token yet tends to go on with a made-up next turn.
        stopStrings: ["### Instruction:"]);

    /// <summary>ChatML, as used by Qwen, SmolLM and many others.</summary>
    public static ChatTemplate ChatMl { get; } = new(
        "chatml", system: "<|im_start|>system\n{content}<|im_end|>\n", user: "<|im_start|>user\n{content}<|im_end|>\n",
        assistantStart: "<|im_start|>assistant\n", assistantEnd: "<|im_end|>", endWithEos: false, afterAssistant: "\n",
        stopStrings: ["<|im_end|>"]);

    /// <summary>Names <see cref="Get"/> knows without a file.</summary>
    public static IReadOnlyList<string> BuiltInNames { get; } = ["default", "chatml"];

    readonly (string Prefix, string Suffix) system, user;
    readonly HubChatTemplate? hub;

    /// <summary>The name of a model's own Jinja template (<see cref="IsModelsOwn"/>).</summary>
    public const string ModelsOwnName = "chat_template";

    ChatTemplate(HubChatTemplate hub)
    {
        this.hub = hub;
        Name = ModelsOwnName;
        SystemPart = UserPart = AssistantStart = AssistantEnd = AfterAssistant = "";
        // The end token as text too: with a tokenizer that lacks it as a special token, it arrives as plain text.
        StopStrings = hub.SpecialTokens.TryGetValue("eos_token", out var eos) && eos is string { Length: > 0 } end ? [end] : [];
    }

    /// <summary>This template rendered with extra Jinja variables (apply_chat_template's keyword arguments, e.g.
    /// <c>enable_thinking</c> for Qwen3). Only a model's own template has variables.</summary>
    public ChatTemplate WithVariables(IReadOnlyDictionary<string, object?> variables)
    {
        if (variables.Count == 0) return this;
        if (hub is null) throw new SharpLMException($"template variables ({string.Join(", ", variables.Keys)}) apply to a model's own Jinja chat template, not to SharpLM's \"{Name}\" template");
        return new ChatTemplate(hub.WithVariables(variables));
    }

    /// <summary>This template with other bounds on rendering a model's own Jinja template (untrusted input); SharpLM's
    /// templates need none.</summary>
    public ChatTemplate WithLimits(JinjaLimits limits) => hub is null ? this : new ChatTemplate(hub.WithLimits(limits));

    /// <summary>The bounds on rendering a model's own Jinja template, null for SharpLM's templates.</summary>
    public JinjaLimits? Limits => hub?.Limits;

    /// <summary>True for a model's own Hugging Face template (the Jinja <c>chat_template</c> of its
    /// tokenizer_config.json), rendered by SharpLM's Jinja engine; the part properties are then empty.</summary>
    public bool IsModelsOwn => hub is not null;

    /// <summary>Checks the parts; throws <see cref="SharpLMException"/> naming the part at fault.</summary>
    public ChatTemplate(string name, string system, string user, string assistantStart, string assistantEnd, bool endWithEos,
        string afterAssistant = "", IReadOnlyList<string>? stopStrings = null, bool addBos = true)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new SharpLMException("a chat template needs a name");
        this.system = Split(system, "system", name);
        this.user = Split(user, "user", name);
        foreach (var (part, field) in new[] { (assistantStart, "assistant_start"), (assistantEnd, "assistant_end"), (afterAssistant, "after_assistant") })
        {
            if (part.Contains(ContentPlaceholder, StringComparison.Ordinal))
                throw new SharpLMException($"chat template \"{name}\": \"{field}\" must not contain {ContentPlaceholder}");
        }
        if (assistantEnd.Length == 0 && !endWithEos)
            throw new SharpLMException($"chat template \"{name}\": answers have no end; set \"assistant_end\" or \"end_with_eos\": true "
                                       + "(otherwise the model never learns to stop)");
        var stops = (stopStrings ?? []).ToArray();
        if (stops.Any(s => s.Length == 0)) throw new SharpLMException($"chat template \"{name}\": a stop string is empty");
        Name = name;
        SystemPart = system;
        UserPart = user;
        AssistantStart = assistantStart;
        AssistantEnd = assistantEnd;
        EndWithEos = endWithEos;
        AfterAssistant = afterAssistant;
        StopStrings = stops;
        AddBos = addBos;
    }

    public string Name { get; }

    /// <summary>A system message: text around <see cref="ContentPlaceholder"/>.</summary>
    public string SystemPart { get; }

    /// <summary>A user message: text around <see cref="ContentPlaceholder"/>.</summary>
    public string UserPart { get; }

    /// <summary>The header before an answer (not trained); a prompt for generation ends with it.</summary>
    public string AssistantStart { get; }

    /// <summary>Text after an answer's content (trained: the model must learn to produce it to stop).</summary>
    public string AssistantEnd { get; }

    /// <summary>Whether the tokenizer's end token follows <see cref="AssistantEnd"/> (trained).</summary>
    public bool EndWithEos { get; }

    /// <summary>Separator after the end of an answer, before the next turn (not trained).</summary>
    public string AfterAssistant { get; }

    /// <summary>Strings that end generation besides the end token (e.g. <c>&lt;|im_end|&gt;</c> for a tokenizer
    /// where it is not a single token).</summary>
    public IReadOnlyList<string> StopStrings { get; }

    /// <summary>Whether examples and prompts start with the tokenizer's begin token (when it has one).</summary>
    public bool AddBos { get; }

    /// <summary>The same template as a Hugging Face Jinja <c>chat_template</c>.</summary>
    public string JinjaTemplate => hub?.Source ?? ChatTemplateJinja.Build(this);

    /// <summary>The special-token strings a model's own template uses (empty for SharpLM templates).</summary>
    public IReadOnlyDictionary<string, object?> SpecialTokens => hub?.SpecialTokens ?? new Dictionary<string, object?>();

    /// <summary>A built-in template by name (<see cref="BuiltInNames"/>, case-insensitive), a template JSON file,
    /// or the template saved in a model folder.</summary>
    public static ChatTemplate Get(string nameOrPath)
    {
        if (nameOrPath.Equals(Default.Name, StringComparison.OrdinalIgnoreCase)) return Default;
        if (nameOrPath.Equals(ChatMl.Name, StringComparison.OrdinalIgnoreCase)) return ChatMl;
        if (File.Exists(nameOrPath)) return ChatTemplateFile.Read(nameOrPath);
        if (Directory.Exists(nameOrPath))
            return LoadFromModel(nameOrPath) ?? throw new SharpLMException(
                $"{nameOrPath} has no chat template (neither {FileName} nor a chat_template in {TokenizerConfigFile.FileName})");
        throw new SharpLMException(
            $"unknown chat template \"{nameOrPath}\": expected {string.Join(" or ", BuiltInNames)}, a template .json file, or a model folder with {FileName}");
    }

    /// <summary>The template to use with a model: <paramref name="nameOrPath"/> when given (see <see cref="Get"/>), else
    /// the one <paramref name="modelFolder"/> holds (see <see cref="LoadFromModel"/>), else <see cref="DefaultFor"/> the
    /// tokenizer (<see cref="Default"/> without one).</summary>
    public static ChatTemplate Resolve(string? nameOrPath, string? modelFolder, ITokenizer? tokenizer = null) =>
        nameOrPath is not null ? Get(nameOrPath)
        : modelFolder is not null && Directory.Exists(modelFolder) && LoadFromModel(modelFolder) is { } saved ? saved
        : tokenizer is null ? Default : DefaultFor(tokenizer);

    /// <summary>The template for a model without one: <see cref="ChatMl"/> when the tokenizer has its markers as
    /// special tokens (SharpLM's own tokenizers do), since llama.cpp, Ollama and most tools recognise it; else
    /// <see cref="Default"/>, whose plain-text headers need no special tokens.</summary>
    public static ChatTemplate DefaultFor(ITokenizer tokenizer) =>
        tokenizer.TokenToId("<|im_start|>") is { } start && tokenizer.TokenToId("<|im_end|>") is { } end
        && tokenizer.Encode("<|im_start|><|im_end|>", allowSpecial: true) is [var a, var b] && a == start && b == end
            ? ChatMl
            : Default;

    /// <summary>Ids that end an answer besides the end token: each stop string that is one special token of
    /// <paramref name="tokenizer"/> (ChatML's <c>&lt;|im_end|&gt;</c>). Decoding skips special tokens, so these must stop
    /// generation as ids.</summary>
    public IEnumerable<int> StopTokenIds(ITokenizer tokenizer) =>
        from stop in StopStrings
        let ids = tokenizer.Encode(stop, allowSpecial: true)
        where ids.Length == 1 && tokenizer.Encode(stop).Length > 1
        select ids[0];

    /// <summary>The template saved in <paramref name="modelFolder"/> by SharpLM, else the model's own Jinja
    /// <c>chat_template</c> from its tokenizer_config.json, else null.</summary>
    public static ChatTemplate? LoadFromModel(string modelFolder)
    {
        string path = Path.Combine(modelFolder, FileName);
        if (File.Exists(path)) return ChatTemplateFile.Read(path);
        return HubChatTemplate.FromModelFolder(modelFolder) is { } hub ? new ChatTemplate(hub) : null;
    }

    /// <summary>Writes <see cref="FileName"/> into the model folder (atomically) and sets <c>chat_template</c> in its
    /// <c>tokenizer_config.json</c> so Hugging Face tools format chats the same way. A model's own template is
    /// written to tokenizer_config.json only, with its special-token strings.</summary>
    public void Save(string modelFolder)
    {
        // After saving, the folder's template is this one: drop files that would be read before it.
        foreach (var stale in (string[])[.. HubChatTemplate.SeparateFiles, .. IsModelsOwn ? [FileName] : Array.Empty<string>()])
            File.Delete(Path.Combine(modelFolder, stale));
        if (!IsModelsOwn) ChatTemplateFile.Write(this, Path.Combine(modelFolder, FileName));
        ChatTemplateFile.WriteHuggingFaceConfig(this, modelFolder);
    }

    /// <summary>Renders a record: a conversation with this template, a text with <see cref="RenderText"/>.</summary>
    public TemplatedExample Render(ITokenizer tokenizer, InstructionRecord record, bool trainOnPrompt = false) =>
        record.Conversation is { } conversation ? Render(tokenizer, conversation, trainOnPrompt) : RenderText(tokenizer, record.Text!) with { Source = record.Source };

    /// <summary>Renders a conversation for training; see the class remarks for what is trained.
    /// <paramref name="trainOnPrompt"/> trains every token but the begin token.</summary>
    public TemplatedExample Render(ITokenizer tokenizer, Conversation conversation, bool trainOnPrompt = false)
    {
        if (hub is not null) return hub.Render(tokenizer, conversation, trainOnPrompt);
        var example = new ExampleBuilder(tokenizer);
        Begin(example);
        foreach (var message in conversation.Messages) Append(example, message, trainOnPrompt);
        return example.Build(conversation.Source);
    }

    /// <summary>Ids for generating the next answer: <paramref name="messagesSoFar"/> rendered as in training,
    /// followed by <see cref="AssistantStart"/>. The messages must be a conversation so far that ends with a user turn.
    /// <paramref name="cancel"/> stops the render of a model's own template.</summary>
    public int[] RenderPrompt(ITokenizer tokenizer, IReadOnlyList<ChatMessage> messagesSoFar, CancellationToken cancel = default)
    {
        if (Conversation.OrderProblem(messagesSoFar) is { } problem) throw new SharpLMException(problem);
        if (messagesSoFar[^1].Role != ChatMessage.UserRole)
            throw new SharpLMException($"a prompt must end with a user message, not {messagesSoFar[^1].Role}");
        if (hub is not null) return hub.RenderPrompt(tokenizer, messagesSoFar, cancel);
        var prompt = new ExampleBuilder(tokenizer);
        Begin(prompt);
        foreach (var message in messagesSoFar) Append(prompt, message, trainOnPrompt: false);
        prompt.Add(AssistantStart, trained: false);
        return prompt.Build("").Ids;
    }

    /// <summary>Plain text for continued pretraining: begin token (when the tokenizer has one), the text, end token;
    /// every token after the first trained.</summary>
    public static TemplatedExample RenderText(ITokenizer tokenizer, string text)
    {
        int eos = tokenizer.Special.Eos ?? throw new SharpLMException("the tokenizer has no end token, which plain-text examples end with");
        var example = new ExampleBuilder(tokenizer);
        if (tokenizer.Special.Bos is { } bos) example.Add(bos, trained: false);
        example.AddContent(text, trained: true);
        example.Add(eos, trained: true);
        return example.Build("");
    }

    void Begin(ExampleBuilder example)
    {
        if (AddBos && example.Tokenizer.Special.Bos is { } bos) example.Add(bos, trained: false);
    }

    void Append(ExampleBuilder example, ChatMessage message, bool trainOnPrompt)
    {
        if (message.Role == ChatMessage.AssistantRole)
        {
            example.Add(AssistantStart, trainOnPrompt);
            example.AddContent(message.Content, trained: true);
            example.Add(AssistantEnd, trained: true);
            if (EndWithEos)
                example.Add(example.Tokenizer.Special.Eos ?? throw new SharpLMException(
                    $"chat template \"{Name}\" ends answers with the tokenizer's end token, but the tokenizer has none "
                    + $"(looked for {string.Join(", ", SpecialTokenNames.Eos)})"), trained: true);
            example.Add(AfterAssistant, trainOnPrompt);
            return;
        }
        var (prefix, suffix) = message.Role == ChatMessage.SystemRole ? system : user;
        example.Add(prefix, trainOnPrompt);
        example.AddContent(message.Content, trainOnPrompt);
        example.Add(suffix, trainOnPrompt);
    }

    static (string Prefix, string Suffix) Split(string part, string field, string name)
    {
        int at = part.IndexOf(ContentPlaceholder, StringComparison.Ordinal);
        if (at < 0 || part.IndexOf(ContentPlaceholder, at + 1, StringComparison.Ordinal) >= 0)
            throw new SharpLMException($"chat template \"{name}\": \"{field}\" must contain {ContentPlaceholder} exactly once");
        return (part[..at], part[(at + ContentPlaceholder.Length)..]);
    }

    /// <summary>Collects ids and their trained flags, encoding each piece on its own.</summary>
    sealed class ExampleBuilder(ITokenizer tokenizer)
    {
        readonly List<int> ids = [];
        readonly List<bool> trained = [];

        public ITokenizer Tokenizer => tokenizer;

        public void Add(int id, bool trained)
        {
            ids.Add(id);
            this.trained.Add(trained);
        }

        /// <summary>Template text: special-token strings in it become special tokens.</summary>
        public void Add(string part, bool trained) => AddIds(part.Length == 0 ? [] : tokenizer.Encode(part, allowSpecial: true), trained);

        /// <summary>Message text: never parsed for special tokens.</summary>
        public void AddContent(string content, bool trained) => AddIds(tokenizer.Encode(content, allowSpecial: false), trained);

        void AddIds(int[] part, bool flag)
        {
            ids.AddRange(part);
            trained.AddRange(Enumerable.Repeat(flag, part.Length));
        }

        public TemplatedExample Build(string source)
        {
            // Nothing predicts the first token, whatever the caller asked for.
            if (trained.Count > 0) trained[0] = false;
            return new TemplatedExample(ids.ToArray(), trained.ToArray()) { Source = source };
        }
    }
}
