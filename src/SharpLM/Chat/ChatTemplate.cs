using SharpLM.Chat.Jinja;
using SharpLM.Tokenization;

namespace SharpLM.Chat;

/// <summary>
/// How a conversation becomes tokens, for prompting and for training alike, and which strings end an answer.
/// There are two kinds: SharpLM's own templates made of text parts (<see cref="PartsChatTemplate"/>: <c>default</c>,
/// <c>chatml</c>, a template .json file), and a model's own Hugging Face Jinja template (<see cref="JinjaChatTemplate"/>,
/// from its tokenizer_config.json or chat_template.jinja). <see cref="ChatTemplates"/> finds the one to use, by name,
/// in a model folder, or for a tokenizer.
/// </summary>
/// <remarks>Message content is untrusted. Rendering for training (<see cref="Render"/>) marks the tokens of the
/// assistant's answers; a prompt for generation (<see cref="RenderPrompt"/>) is token for token the prefix of that
/// rendering before the next answer.</remarks>
public abstract class ChatTemplate
{
    // Only the two kinds above: callers tell them apart by type (an Ollama Modelfile exists only for parts).
    private protected ChatTemplate() { }

    /// <summary>The template's name (<see cref="JinjaChatTemplate.ModelsOwnName"/> for a model's own).</summary>
    public abstract string Name { get; }

    /// <summary>Strings that end generation besides the end token (e.g. <c>&lt;|im_end|&gt;</c> for a tokenizer
    /// where it is not a single token).</summary>
    public abstract IReadOnlyList<string> StopStrings { get; }

    /// <summary>The template as a Hugging Face Jinja <c>chat_template</c> (what tokenizer_config.json and a GGUF file carry).</summary>
    public abstract string JinjaTemplate { get; }

    /// <summary>This template rendered with extra Jinja variables (apply_chat_template's keyword arguments, e.g.
    /// <c>enable_thinking</c> for Qwen3); the same template when there are none. Only a model's own template has
    /// variables: SharpLM's templates refuse any.</summary>
    public abstract ChatTemplate WithVariables(IReadOnlyDictionary<string, object?> variables);

    /// <summary>This template with other bounds on rendering a model's own Jinja template (untrusted input); SharpLM's
    /// templates need none and return themselves.</summary>
    public abstract ChatTemplate WithLimits(JinjaLimits limits);

    /// <summary>Makes this the template of <paramref name="modelFolder"/>: writes it (atomically) where
    /// <see cref="ChatTemplates.LoadFromModel"/> finds it, sets <c>chat_template</c> in the folder's tokenizer_config.json
    /// so Hugging Face tools format chats the same way, and removes template files that would be read before it.</summary>
    public abstract void Save(string modelFolder);

    /// <summary>Renders a whole conversation, marking the tokens of each assistant answer and what ends it (the
    /// header before an answer, what follows its end, system and user turns are not marked).</summary>
    public abstract RenderedConversation Render(ITokenizer tokenizer, Conversation conversation);

    /// <summary>Ids for generating the next answer: <paramref name="messagesSoFar"/> rendered as in <see cref="Render"/>,
    /// followed by the header of an assistant answer. The messages must be a conversation so far that ends with a user
    /// turn. <paramref name="cancel"/> stops the render of a model's own template.</summary>
    public int[] RenderPrompt(ITokenizer tokenizer, IReadOnlyList<ChatMessage> messagesSoFar, CancellationToken cancel = default)
    {
        if (Conversation.OrderProblem(messagesSoFar) is { } problem) throw new SharpLMException(problem);
        if (messagesSoFar[^1].Role != ChatMessage.UserRole)
            throw new SharpLMException($"a prompt must end with a user message, not {messagesSoFar[^1].Role}");
        return Prompt(tokenizer, messagesSoFar, cancel);
    }

    /// <summary><see cref="RenderPrompt"/> for messages already checked.</summary>
    private protected abstract int[] Prompt(ITokenizer tokenizer, IReadOnlyList<ChatMessage> messagesSoFar, CancellationToken cancel);

    /// <summary>Ids that end an answer besides the end token: each stop string that is one special token of
    /// <paramref name="tokenizer"/> (ChatML's <c>&lt;|im_end|&gt;</c>). Decoding skips special tokens, so these must stop
    /// generation as ids.</summary>
    public IEnumerable<int> StopTokenIds(ITokenizer tokenizer) =>
        from stop in StopStrings
        let ids = tokenizer.Encode(stop, allowSpecial: true)
        where ids.Length == 1 && tokenizer.Encode(stop).Length > 1
        select ids[0];
}
