namespace SharpLM.Chat.Jinja;

/// <summary>
/// Bounds on one parse and one render of a template. A model's chat template is untrusted input: without bounds a
/// few lines of Jinja can loop for hours, build strings of gigabytes or recurse until the process dies. The defaults
/// are far above what real chat templates (Llama 3, Qwen, Mistral) need.
/// </summary>
public sealed record JinjaLimits
{
    public static JinjaLimits Default { get; } = new();

    /// <summary>Most characters of the rendered text, and of any one string (or items of any one list) made on the way.</summary>
    public int MaxOutputChars { get; init; } = 4_000_000;

    /// <summary>Most characters (and list items) of everything a render builds together: concatenations, filters,
    /// method and macro results. Bounds the memory a render holds and refuses quadratic appends quickly.</summary>
    public long MaxBuiltChars { get; init; } = 100_000_000;

    /// <summary>Most loop iterations in one render, all loops together (range() items count too).</summary>
    public long MaxLoopIterations { get; init; } = 10_000_000;

    /// <summary>How deep blocks, expressions and macro calls may nest, counted together; the parser refuses deeper
    /// templates too, so nesting never overflows the stack.</summary>
    public int MaxDepth { get; init; } = 200;

    /// <summary>Longest time one render may take.</summary>
    public TimeSpan MaxTime { get; init; } = TimeSpan.FromSeconds(3);
}

/// <summary>A parse or render went past one of its <see cref="JinjaLimits"/>; the message names the limit.</summary>
public sealed class JinjaLimitException(string message) : JinjaException(message);
