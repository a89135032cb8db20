using SharpLM.Chat.Jinja;
using SharpLM.Tokenization;

namespace SharpLM.Chat;

/// <summary>
/// SharpLM's own kind of chat template: a few text parts. <c>SystemPart</c> and <c>UserPart</c> wrap a message's
/// content (they hold a <c>{content}</c> placeholder); an assistant turn is <c>AssistantStart</c>, the content,
/// <c>AssistantEnd</c>, the tokenizer's end token when <c>EndWithEos</c>, then <c>AfterAssistant</c>. The begin token
/// comes first when <c>AddBos</c> and the tokenizer has one. The built-in ones are <see cref="ChatTemplates.Default"/>
/// (the Alpaca layout) and <see cref="ChatTemplates.ChatMl"/>.
/// </summary>
/// <remarks>
/// Template parts are trusted and encoded with special tokens recognised (so a tokenizer with <c>&lt;|im_start|&gt;</c>
/// as a special token uses it); message content is untrusted and never is. Every part and every content is encoded on
/// its own and the ids concatenated, so a prompt for generation is token for token the prefix that training saw.
/// The answer of an assistant turn is its content and its end (<c>AssistantEnd</c> and the end token); the header
/// before it, what follows it, system and user turns are not.
/// The JSON file format is described in <see cref="ChatTemplateFile"/> and docs/templates.md.
/// </remarks>
public sealed class PartsChatTemplate : ChatTemplate
{
    /// <summary>The file <see cref="Save"/> writes into a model folder.</summary>
    public const string FileName = "sharplm_template.json";

    /// <summary>The placeholder for a message's content in <see cref="SystemPart"/> and <see cref="UserPart"/>.</summary>
    public const string ContentPlaceholder = "{content}";

    readonly (string Prefix, string Suffix) system, user;

    /// <summary>Checks the parts; throws <see cref="SharpLMException"/> naming the part at fault.</summary>
    public PartsChatTemplate(string name, string system, string user, string assistantStart, string assistantEnd, bool endWithEos,
        string afterAssistant = "", IReadOnlyList<string>? stopStrings = null, bool addBos = true)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new SharpLMException("a chat template needs a name");
        this.system = Split(system, "system", name);
        this.user = Split(user, "user", name);
        foreach (var (part, field) in
                 new[] { (assistantStart, "assistant_start"), (assistantEnd, "assistant_end"), (afterAssistant, "after_assistant") })
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

    public override string Name { get; }

    /// <summary>A system message: text around <see cref="ContentPlaceholder"/>.</summary>
    public string SystemPart { get; }

    /// <summary>A user message: text around <see cref="ContentPlaceholder"/>.</summary>
    public string UserPart { get; }

    /// <summary>The header before an answer (not part of it); a prompt for generation ends with it.</summary>
    public string AssistantStart { get; }

    /// <summary>Text after an answer's content (part of the answer: the model must learn to produce it to stop).</summary>
    public string AssistantEnd { get; }

    /// <summary>Whether the tokenizer's end token follows <see cref="AssistantEnd"/> (part of the answer).</summary>
    public bool EndWithEos { get; }

    /// <summary>Separator after the end of an answer, before the next turn (not part of the answer).</summary>
    public string AfterAssistant { get; }

    public override IReadOnlyList<string> StopStrings { get; }

    /// <summary>Whether renderings and prompts start with the tokenizer's begin token (when it has one).</summary>
    public bool AddBos { get; }

    /// <summary>The same template written in Jinja (see <see cref="ChatTemplateJinja"/>).</summary>
    public override string JinjaTemplate => ChatTemplateJinja.Build(this);

    /// <summary>This template when there are no variables; SharpLM's templates have none.</summary>
    public override ChatTemplate WithVariables(IReadOnlyDictionary<string, object?> variables) =>
        variables.Count == 0 ? this
        : throw new SharpLMException($"template variables ({string.Join(", ", variables.Keys)}) apply to a model's own Jinja chat template, " +
                                     $"not to SharpLM's \"{Name}\" template");

    /// <summary>This template: its parts are trusted and need no bounds.</summary>
    public override ChatTemplate WithLimits(JinjaLimits limits) => this;

    /// <summary>Writes <see cref="FileName"/> into the model folder (atomically) and its Jinja form as <c>chat_template</c>
    /// in <c>tokenizer_config.json</c>, removing a chat_template.jinja or chat_template.json there.</summary>
    public override void Save(string modelFolder)
    {
        // After saving, the folder's template is this one: drop files that would be read before it.
        foreach (var stale in JinjaChatTemplate.SeparateFiles) File.Delete(Path.Combine(modelFolder, stale));
        ChatTemplateFile.Write(this, Path.Combine(modelFolder, FileName));
        ChatTemplateFile.WriteHuggingFaceConfig(modelFolder, JinjaTemplate, new Dictionary<string, object?>());
    }

    public override RenderedConversation Render(ITokenizer tokenizer, Conversation conversation)
    {
        var rendered = new TokenRun(tokenizer);
        Begin(rendered);
        foreach (var message in conversation.Messages) Append(rendered, message);
        return rendered.Build();
    }

    private protected override int[] Prompt(ITokenizer tokenizer, IReadOnlyList<ChatMessage> messagesSoFar, CancellationToken cancel)
    {
        var prompt = new TokenRun(tokenizer);
        Begin(prompt);
        foreach (var message in messagesSoFar) Append(prompt, message);
        prompt.Add(AssistantStart, inAnswer: false);
        return prompt.Build().Ids;
    }

    void Begin(TokenRun run)
    {
        if (AddBos && run.Tokenizer.Special.Bos is { } bos) run.Add(bos, inAnswer: false);
    }

    void Append(TokenRun run, ChatMessage message)
    {
        if (message.Role == ChatMessage.AssistantRole)
        {
            run.Add(AssistantStart, inAnswer: false);
            run.AddContent(message.Content, inAnswer: true);
            run.Add(AssistantEnd, inAnswer: true);
            if (EndWithEos)
                run.Add(run.Tokenizer.Special.Eos ?? throw new SharpLMException(
                    $"chat template \"{Name}\" ends answers with the tokenizer's end token, but the tokenizer has none "
                    + $"(looked for {string.Join(", ", SpecialTokenNames.Eos)})"), inAnswer: true);
            run.Add(AfterAssistant, inAnswer: false);
            return;
        }
        var (prefix, suffix) = message.Role == ChatMessage.SystemRole ? system : user;
        run.Add(prefix, inAnswer: false);
        run.AddContent(message.Content, inAnswer: false);
        run.Add(suffix, inAnswer: false);
    }

    static (string Prefix, string Suffix) Split(string part, string field, string name)
    {
        int at = part.IndexOf(ContentPlaceholder, StringComparison.Ordinal);
        if (at < 0 || part.IndexOf(ContentPlaceholder, at + 1, StringComparison.Ordinal) >= 0)
            throw new SharpLMException($"chat template \"{name}\": \"{field}\" must contain {ContentPlaceholder} exactly once");
        return (part[..at], part[(at + ContentPlaceholder.Length)..]);
    }

    /// <summary>Collects ids and whether each is in an answer, encoding each piece on its own.</summary>
    sealed class TokenRun(ITokenizer tokenizer)
    {
        readonly List<int> ids = [];
        readonly List<bool> inAnswer = [];

        public ITokenizer Tokenizer => tokenizer;

        public void Add(int id, bool inAnswer)
        {
            ids.Add(id);
            this.inAnswer.Add(inAnswer);
        }

        /// <summary>Template text: special-token strings in it become special tokens.</summary>
        public void Add(string part, bool inAnswer) => AddIds(part.Length == 0 ? [] : tokenizer.Encode(part, allowSpecial: true), inAnswer);

        /// <summary>Message text: never parsed for special tokens.</summary>
        public void AddContent(string content, bool inAnswer) => AddIds(tokenizer.Encode(content, allowSpecial: false), inAnswer);

        void AddIds(int[] part, bool flag)
        {
            ids.AddRange(part);
            inAnswer.AddRange(Enumerable.Repeat(flag, part.Length));
        }

        public RenderedConversation Build() => new(ids.ToArray(), inAnswer.ToArray());
    }
}
