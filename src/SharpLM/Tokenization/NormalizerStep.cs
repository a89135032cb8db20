namespace SharpLM.Tokenization;

/// <summary>
/// One step of a Hugging Face normalizer as SentencePiece-style tokenizer.json files use it
/// (Llama-2, Mistral: <c>Sequence[Prepend("▁"), Replace(" ", "▁")]</c>). Steps run in order on
/// each stretch of text between added tokens.
/// </summary>
public abstract record NormalizerStep
{
    // Only SharpLM's own steps, each of which tokenizer.json can express.
    private protected NormalizerStep() { }

    /// <summary>The text after this step.</summary>
    public abstract string Apply(string text);
}

/// <summary>Puts <paramref name="Prefix"/> in front of non-empty text (Hugging Face's Prepend).</summary>
public sealed record PrependNormalizer(string Prefix) : NormalizerStep
{
    /// <inheritdoc/>
    public override string Apply(string text) => text.Length == 0 ? text : Prefix + text;
}

/// <summary>Replaces every occurrence of <paramref name="Pattern"/>, left to right, with
/// <paramref name="Content"/> (Hugging Face's Replace with a String pattern).</summary>
public sealed record ReplaceNormalizer : NormalizerStep
{
    /// <exception cref="SharpLMException"><paramref name="pattern"/> is empty.</exception>
    public ReplaceNormalizer(string pattern, string content)
    {
        if (pattern.Length == 0) throw new SharpLMException("Replace: the pattern is empty.");
        Pattern = pattern;
        Content = content;
    }

    /// <summary>The text to replace.</summary>
    public string Pattern { get; }

    /// <summary>What it is replaced with.</summary>
    public string Content { get; }

    /// <inheritdoc/>
    public override string Apply(string text) => text.Replace(Pattern, Content, StringComparison.Ordinal);
}
