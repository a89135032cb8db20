using System.Globalization;
using System.Runtime.InteropServices;

namespace SharpLM.Tokenization;

/// <summary>
/// One step of a Hugging Face decoder, which turns the token strings of a sequence back into text
/// (Llama-2/Mistral: <c>Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)]</c>).
/// Steps run in order on the list of token strings; the text is their concatenation at the end.
/// </summary>
public abstract record DecoderStep
{
    // Only SharpLM's own steps, each of which tokenizer.json can express.
    private protected DecoderStep() { }

    /// <summary>Rewrites the token strings in place.</summary>
    public abstract void Apply(List<string> tokens);
}

/// <summary>Replaces <paramref name="Pattern"/> with <paramref name="Content"/> in every token.</summary>
public sealed record ReplaceDecoder : DecoderStep
{
    /// <exception cref="SharpLMException"><paramref name="pattern"/> is empty.</exception>
    public ReplaceDecoder(string pattern, string content)
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
    public override void Apply(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++) tokens[i] = tokens[i].Replace(Pattern, Content, StringComparison.Ordinal);
    }
}

/// <summary>
/// Turns each run of byte tokens (<c>&lt;0x41&gt;</c>) into the text its bytes spell. A run that is
/// not valid UTF-8 becomes one U+FFFD per byte, as in Hugging Face; a run that is valid WTF-8 (lone
/// surrogates, which SharpLM encodes that way, see <see cref="Wtf8"/>) gives those surrogates back.
/// </summary>
public sealed record ByteFallbackDecoder : DecoderStep
{
    /// <inheritdoc/>
    public override void Apply(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            if (TryParseByteToken(token, out byte b))
            {
                bytes.Add(b);
                continue;
            }
            Flush(bytes, result);
            result.Add(token);
        }
        Flush(bytes, result);
        tokens.Clear();
        tokens.AddRange(result);
    }

    /// <summary>Reads a byte token "&lt;0xXX&gt;" (hex digits in either case).</summary>
    public static bool TryParseByteToken(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    static void Flush(List<byte> bytes, List<string> result)
    {
        if (bytes.Count == 0) return;
        var span = CollectionsMarshal.AsSpan(bytes);
        string text = Wtf8.Decode(span);
        // Decoding replaced something exactly when the text does not encode back to the same bytes.
        if (Wtf8.Encode(text).AsSpan().SequenceEqual(span)) result.Add(text);
        else result.AddRange(Enumerable.Repeat("\uFFFD", bytes.Count));
        bytes.Clear();
    }
}

/// <summary>Joins all tokens into one (Hugging Face's Fuse), so later steps see the whole text.</summary>
public sealed record FuseDecoder : DecoderStep
{
    /// <inheritdoc/>
    public override void Apply(List<string> tokens)
    {
        string fused = string.Concat(tokens);
        tokens.Clear();
        tokens.Add(fused);
    }
}

/// <summary>Removes up to <paramref name="Start"/> leading and <paramref name="Stop"/> trailing
/// <paramref name="Content"/> characters from every token (after Fuse: the space that the
/// normalizer put in front of the text).</summary>
public sealed record StripDecoder(char Content, int Start, int Stop) : DecoderStep
{
    /// <inheritdoc/>
    public override void Apply(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            int from = 0;
            while (from < Start && from < token.Length && token[from] == Content) from++;
            int to = token.Length;
            while (token.Length - to < Stop && to > from && token[to - 1] == Content) to--;
            tokens[i] = token[from..to];
        }
    }
}

/// <summary>Hugging Face's Metaspace decoder: <paramref name="Replacement"/> becomes a space, except in
/// the first token, where it is dropped unless the scheme is <see cref="PrependScheme.Never"/>.</summary>
public sealed record MetaspaceDecoder(char Replacement = '\u2581', PrependScheme Scheme = PrependScheme.Always) : DecoderStep
{
    /// <inheritdoc/>
    public override void Apply(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            if (!tokens[i].Contains(Replacement)) continue;
            tokens[i] = i == 0 && Scheme != PrependScheme.Never
                ? tokens[i].Replace(Replacement.ToString(), "", StringComparison.Ordinal)
                : tokens[i].Replace(Replacement, ' ');
        }
    }
}
