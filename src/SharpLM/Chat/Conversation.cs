namespace SharpLM.Chat;

/// <summary>
/// A chat to train on: an optional first system message, then user and assistant turns that strictly
/// alternate, starting with a user turn and ending with an assistant turn. User and assistant turns
/// must not be empty or only whitespace.
/// </summary>
/// <remarks>Two user turns in a row, a system message later in the chat or a trailing unanswered user
/// turn are rejected rather than merged or dropped: they usually mean the data was assembled wrongly,
/// and guessing would train on something the user did not intend.</remarks>
public sealed class Conversation
{
    /// <summary>Checks the rules above; throws <see cref="SharpLMException"/> naming the message at fault.</summary>
    /// <param name="source">Where it was read, for messages: <c>path:line</c>, <c>path:row N</c> or empty.</param>
    public Conversation(IReadOnlyList<ChatMessage> messages, string source = "")
    {
        if (Problem(messages) is { } problem)
            throw new SharpLMException(source.Length > 0 ? $"{source}: {problem}" : problem);
        Messages = messages.ToArray();
        Source = source;
    }

    public IReadOnlyList<ChatMessage> Messages { get; }

    /// <summary>Where the conversation was read, e.g. <c>chat.jsonl:12</c>.</summary>
    public string Source { get; }

    /// <summary>Null when <paramref name="messages"/> make a valid conversation, otherwise what is wrong
    /// (naming the message as <c>messages[i]</c>).</summary>
    public static string? Problem(IReadOnlyList<ChatMessage> messages)
    {
        if (OrderProblem(messages) is { } order) return order;
        if (messages[^1].Role != ChatMessage.AssistantRole)
            return $"the conversation ends with a {messages[^1].Role} message; it must end with an assistant answer";
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != ChatMessage.SystemRole && string.IsNullOrWhiteSpace(messages[i].Content))
                return $"messages[{i}]: the {messages[i].Role} message is empty";
        }
        return null;
    }

    /// <summary>Null when the roles are known and in order (the prefix of a valid conversation, which may end
    /// with either a user or an assistant turn); otherwise what is wrong.</summary>
    internal static string? OrderProblem(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 0) return "the conversation has no messages";
        int first = messages[0].Role == ChatMessage.SystemRole ? 1 : 0;
        for (int i = 0; i < messages.Count; i++)
        {
            string role = messages[i].Role;
            if (!ChatMessage.Roles.Contains(role))
                return $"messages[{i}]: unknown role \"{role}\" (expected {string.Join(", ", ChatMessage.Roles.Select(r => $"\"{r}\""))})";
            if (i < first) continue;
            string expected = (i - first) % 2 == 0 ? ChatMessage.UserRole : ChatMessage.AssistantRole;
            if (role != expected)
                return $"messages[{i}]: expected role \"{expected}\", got \"{role}\" "
                       + "(after an optional first system message, turns must alternate user, assistant, user, ...)";
        }
        if (first == messages.Count) return "the conversation has only a system message";
        return null;
    }
}
