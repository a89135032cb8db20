using SharpLM.Chat;

namespace SharpLM.Data;

/// <summary>
/// One preference pair: a prompt (the conversation so far, ending with a user turn) and two completions of it, the
/// one preferred (<see cref="Chosen"/>) and the one not (<see cref="Rejected"/>), each starting with an assistant turn.
/// Prompt + completion is a valid <see cref="Conversation"/>.
/// </summary>
public sealed class PreferenceRecord
{
    /// <exception cref="SharpLMException">a part is empty, a completion does not start with the assistant, or prompt +
    /// completion is not a valid conversation</exception>
    public PreferenceRecord(IReadOnlyList<ChatMessage> prompt, IReadOnlyList<ChatMessage> chosen, IReadOnlyList<ChatMessage> rejected,
        string source = "")
    {
        if (Problem(prompt, chosen, rejected) is { } problem) throw new SharpLMException(source.Length > 0 ? $"{source}: {problem}" : problem);
        Prompt = prompt.ToArray();
        Chosen = chosen.ToArray();
        Rejected = rejected.ToArray();
        Source = source;
    }

    public IReadOnlyList<ChatMessage> Prompt { get; }
    public IReadOnlyList<ChatMessage> Chosen { get; }
    public IReadOnlyList<ChatMessage> Rejected { get; }

    /// <summary>Where it was read: <c>path:line</c> or <c>path:row N</c>.</summary>
    public string Source { get; }

    /// <summary>The prompt followed by the chosen completion: the conversation a model should have had.</summary>
    public Conversation ChosenConversation => new([.. Prompt, .. Chosen], Source);

    /// <summary>The prompt followed by the rejected completion.</summary>
    public Conversation RejectedConversation => new([.. Prompt, .. Rejected], Source);

    /// <summary>Null when the parts make a valid pair, otherwise what is wrong, naming the part.</summary>
    public static string? Problem(IReadOnlyList<ChatMessage> prompt, IReadOnlyList<ChatMessage> chosen, IReadOnlyList<ChatMessage> rejected)
    {
        if (prompt.Count == 0) return "the prompt has no messages";
        if (prompt[^1].Role != ChatMessage.UserRole) return $"the prompt ends with a {prompt[^1].Role} message; it must end with a user turn";
        foreach (var (name, completion) in new[] { ("chosen", chosen), ("rejected", rejected) })
        {
            if (completion.Count == 0) return $"\"{name}\" has no messages";
            if (completion[0].Role != ChatMessage.AssistantRole)
                return $"{name}[0] is a {completion[0].Role} message; a completion starts with the assistant's answer";
            if (Conversation.Problem([.. prompt, .. completion]) is { } problem)
                return $"prompt + {name} as one conversation: {problem}";
        }
        return null;
    }
}
