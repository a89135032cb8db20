using SharpLM.Chat;

namespace SharpLM.Data;

/// <summary>One record of fine-tuning data: either plain text (continued pretraining on domain text, trained on
/// every token) or a <see cref="Chat.Conversation"/> (trained on the assistant's answers).</summary>
public sealed class InstructionRecord
{
    InstructionRecord(string? text, Conversation? conversation, string source)
    {
        Text = text;
        Conversation = conversation;
        Source = source;
    }

    /// <summary>The text of a plain-text record; null for a conversation.</summary>
    public string? Text { get; }

    /// <summary>The conversation; null for a plain-text record.</summary>
    public Conversation? Conversation { get; }

    /// <summary>Where it was read: <c>path:line</c> or <c>path:row N</c>.</summary>
    public string Source { get; }

    public static InstructionRecord FromText(string text, string source) => new(text, null, source);

    public static InstructionRecord FromConversation(Conversation conversation) => new(null, conversation, conversation.Source);
}
