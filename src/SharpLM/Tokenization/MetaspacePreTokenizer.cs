namespace SharpLM.Tokenization;

/// <summary>When the Metaspace pre-tokenizer or decoder adds or drops the leading replacement character.</summary>
public enum PrependScheme
{
    /// <summary>On every stretch of text (Hugging Face's default, and legacy add_prefix_space true).</summary>
    Always,

    /// <summary>Only on the stretch that starts the text, not after an added token.</summary>
    First,

    /// <summary>Never (legacy add_prefix_space false).</summary>
    Never,
}

/// <summary>
/// Hugging Face's Metaspace pre-tokenizer, as newer Llama-2/Mistral conversions use it instead of a
/// normalizer: spaces become <paramref name="Replacement"/>, which is also put in front when the
/// stretch does not already start with it (see <see cref="PrependScheme"/>); with
/// <paramref name="Split"/>, every replacement character then starts a new word.
/// </summary>
/// <param name="Replacement">The character standing for a space, "▁" (U+2581) in practice.</param>
/// <param name="Scheme">When to put the replacement in front.</param>
/// <param name="Split">Whether to cut the text into words before each replacement character.</param>
public sealed record MetaspacePreTokenizer(char Replacement = '\u2581', PrependScheme Scheme = PrependScheme.Always, bool Split = true)
{
    /// <summary>Rewrites one stretch of (normalized) text and appends its words as (start, length)
    /// ranges of the returned string.</summary>
    /// <param name="text">The stretch; never empty.</param>
    /// <param name="atStart">Whether the stretch starts the original text (for <see cref="PrependScheme.First"/>).</param>
    /// <param name="words">Receives the words.</param>
    public string PreTokenize(string text, bool atStart, List<(int Start, int Length)> words)
    {
        string rewritten = text.Replace(' ', Replacement);
        bool prepend = Scheme == PrependScheme.Always || (Scheme == PrependScheme.First && atStart);
        if (prepend && rewritten[0] != Replacement) rewritten = Replacement + rewritten;
        if (!Split)
        {
            words.Add((0, rewritten.Length));
            return rewritten;
        }
        int start = 0;
        for (int i = 1; i < rewritten.Length; i++)
        {
            if (rewritten[i] != Replacement) continue;
            words.Add((start, i - start));
            start = i;
        }
        words.Add((start, rewritten.Length - start));
        return rewritten;
    }
}
