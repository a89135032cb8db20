using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SharpLM.Tokenization;

/// <summary>
/// Splits text into the pieces ("words") that BPE works on, with a regular expression, as
/// Hugging Face's ByteLevel pre-tokenizer (use_regex=true) or its Split(Regex, Isolated)
/// pre-tokenizer does: every match is a piece, and so is any text between matches. Optionally
/// every digit is first made a piece of its own, as Hugging Face's Digits(individual_digits=true)
/// does in front of ByteLevel (SmolLM, StarCoder).
/// </summary>
/// <remarks>
/// .NET regular expressions see UTF-16 code units, while Hugging Face's see code points, so a
/// character outside the BMP (e.g. "𝐀" or "𠀀", both letters) would look like two surrogates to
/// \p{L}. Where the text has surrogate pairs the regex therefore runs on a stand-in string in
/// which each pair is one BMP character of the same Unicode category, and the pieces are mapped
/// back. Lone surrogates stay as they are: they match [^\s\p{L}\p{N}], so no pattern crashes on them.
/// </remarks>
public sealed class PreTokenizer
{
    /// <summary>GPT-2's pattern, used by Hugging Face's ByteLevel pre-tokenizer.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Llama-3's pattern (the Split regex of its tokenizer.json).</summary>
    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2's pattern: Llama-3's with single digits.</summary>
    public const string Qwen2Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The GPT-2 pre-tokenizer that SharpLM trains with by default.</summary>
    public static PreTokenizer Gpt2 { get; } = new(Gpt2Pattern);

    // One BMP character per Unicode category, standing in for supplementary characters of that category.
    static readonly char[] standIns = FindStandIns();

    readonly Regex regex;

    /// <summary>Creates a pre-tokenizer for a pattern in .NET regular-expression syntax
    /// (which accepts the patterns of GPT-2, Llama-3 and similar tokenizer.json files).</summary>
    /// <param name="pattern">The regular expression whose matches are the pieces.</param>
    /// <param name="individualDigits">Make every numeric character (categories Nd, Nl, No) a piece
    /// of its own before the regex runs on the text between them.</param>
    /// <param name="source">Where the pattern comes from (file and field), for the error when it runs too long.</param>
    public PreTokenizer(string pattern, bool individualDigits = false, string? source = null)
    {
        Pattern = pattern;
        IndividualDigits = individualDigits;
        Source = source ?? "the pre-tokenizer pattern";
        // Patterns from files are untrusted: see UntrustedRegex.
        regex = UntrustedRegex.Create(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
    }

    /// <summary>Where the pattern comes from, e.g. a tokenizer.json file and the field in it.</summary>
    public string Source { get; }

    /// <summary>The regular expression.</summary>
    public string Pattern { get; }

    /// <summary>Whether each digit is split off on its own first.</summary>
    public bool IndividualDigits { get; }

    /// <summary>True when the pattern is GPT-2's (saved as ByteLevel with use_regex).</summary>
    public bool HasGpt2Pattern => Pattern == Gpt2Pattern;

    /// <summary>Appends the pieces of <paramref name="text"/> as (start, length) pairs.</summary>
    public void Split(ReadOnlySpan<char> text, List<(int Start, int Length)> pieces)
    {
        if (!IndividualDigits)
        {
            SplitWithRegex(text, 0, pieces);
            return;
        }
        int runStart = 0;
        for (int i = 0; i < text.Length;)
        {
            // A lone surrogate decodes as U+FFFD, which is not a number.
            Rune.DecodeFromUtf16(text[i..], out var rune, out int length);
            if (Rune.IsNumber(rune))
            {
                SplitWithRegex(text[runStart..i], runStart, pieces);
                pieces.Add((i, length));
                runStart = i + length;
            }
            i += length;
        }
        SplitWithRegex(text[runStart..], runStart, pieces);
    }

    /// <summary>The pieces of <paramref name="text"/> as strings (for tests and tools).</summary>
    public List<string> Split(string text)
    {
        var pieces = new List<(int Start, int Length)>();
        Split(text, pieces);
        return pieces.ConvertAll(p => text.Substring(p.Start, p.Length));
    }

    void SplitWithRegex(ReadOnlySpan<char> text, int offset, List<(int Start, int Length)> pieces)
    {
        if (text.IsEmpty) return;
        if (text.IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            SplitBmp(text, offset, pieces, null);
            return;
        }
        char[] standIn = ArrayPool<char>.Shared.Rent(text.Length);
        int[] origin = ArrayPool<int>.Shared.Rent(text.Length + 1);
        try
        {
            int n = 0;
            for (int i = 0; i < text.Length; i++, n++)
            {
                origin[n] = i;
                char c = text[i];
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    standIn[n] = standIns[(int)CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[i + 1]))];
                    i++;
                }
                else standIn[n] = c;
            }
            origin[n] = text.Length;
            SplitBmp(standIn.AsSpan(0, n), offset, pieces, origin);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(standIn);
            ArrayPool<int>.Shared.Return(origin);
        }
    }

    void SplitBmp(ReadOnlySpan<char> text, int offset, List<(int Start, int Length)> pieces, int[]? origin)
    {
        int end = 0;
        try
        {
            foreach (var m in regex.EnumerateMatches(text))
            {
                if (m.Length == 0) continue;
                if (m.Index > end) Add(end, m.Index);
                Add(m.Index, m.Index + m.Length);
                end = m.Index + m.Length;
            }
        }
        catch (RegexMatchTimeoutException e)
        {
            throw UntrustedRegex.TimedOut(Source, Pattern, e);
        }
        if (end < text.Length) Add(end, text.Length);

        void Add(int from, int to)
        {
            if (origin is not null) (from, to) = (origin[from], origin[to]);
            pieces.Add((offset + from, to - from));
        }
    }

    static char[] FindStandIns()
    {
        // The first BMP character of each category from U+0100 on (past ASCII, so a stand-in never
        // equals a literal such as 's' in a pattern); categories with none keep U+FFFD (never needed:
        // supplementary characters are never spaces or surrogates).
        var found = new char[32];
        Array.Fill(found, '\uFFFD');
        var seen = new bool[32];
        for (int c = 0x100; c < 0x10000; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF) continue;
            int cat = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (!seen[cat]) { seen[cat] = true; found[cat] = (char)c; }
        }
        return found;
    }
}
