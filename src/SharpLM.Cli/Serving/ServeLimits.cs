using SharpLM.Chat.Jinja;

namespace SharpLM.Cli.Serving;

/// <summary>
/// What one request may ask of <see cref="ModelServer"/>: clients are untrusted, so a body, a conversation or a
/// rendered prompt past these is refused (413 or 400, naming the field) before it costs memory or time.
/// </summary>
sealed record ServeLimits
{
    /// <summary>Largest request body in bytes (Kestrel stops reading past it: 413).</summary>
    public long MaxRequestBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Most entries in a chat request's <c>messages</c>.</summary>
    public int MaxMessages { get; init; } = 1000;

    /// <summary>Largest <c>chat_template_kwargs</c>, in characters of its JSON.</summary>
    public int MaxTemplateKwargsChars { get; init; } = 256 * 1024;

    /// <summary>Longest prompt in characters: a completion's <c>prompt</c>, a chat's messages, and the text the chat
    /// template renders from them.</summary>
    public int MaxPromptChars { get; init; } = 1_000_000;

    /// <summary>The bounds of a chat template render: the defaults, with the output bounded by <see cref="MaxPromptChars"/>.</summary>
    public JinjaLimits Template => JinjaLimits.Default with { MaxOutputChars = MaxPromptChars };
}
