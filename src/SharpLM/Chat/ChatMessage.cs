namespace SharpLM.Chat;

/// <summary>One turn of a conversation.</summary>
/// <param name="Role"><see cref="SystemRole"/>, <see cref="UserRole"/> or <see cref="AssistantRole"/>.</param>
/// <param name="Content">The text exactly as given (untrusted: never parsed for special tokens).</param>
public sealed record ChatMessage(string Role, string Content)
{
    public const string SystemRole = "system";
    public const string UserRole = "user";
    public const string AssistantRole = "assistant";

    /// <summary>The roles SharpLM knows, in the order they may first appear.</summary>
    public static IReadOnlyList<string> Roles { get; } = [SystemRole, UserRole, AssistantRole];
}
