using System.Runtime.InteropServices;
using SharpLM.Tokenization;

namespace SharpLM.Generation;

/// <summary>
/// Turns generated token ids into text as they arrive: holds back bytes of a character split across tokens and
/// any tail that might be the start of a stop string, and ends the text before the first stop string.
/// </summary>
/// <remarks>The text is always the decode of all ids so far, not a concatenation of per-token decodes: a
/// SentencePiece decoder drops the leading space of its first token ("▁world" alone decodes as "world"), so
/// only the whole sequence gives the spaces back.</remarks>
public sealed class StreamingText(ITokenizer tokenizer, IReadOnlyList<string> stopStrings)
{
    // Invalid UTF-8 can never complete after this many pending tokens (a character is at most 4 bytes).
    const int MaxPendingTokens = 8;

    readonly List<int> ids = [];
    readonly System.Text.StringBuilder text = new();
    int pending;
    int emitted;

    /// <summary>All text so far (without any stop string).</summary>
    public string Text => text.ToString();

    /// <summary>True once a stop string appeared; further tokens are ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds one token and returns the text that is now safe to show (maybe empty).</summary>
    public string Push(int id)
    {
        if (Stopped) return "";
        ids.Add(id);
        pending++;
        var all = tokenizer.Decode(CollectionsMarshal.AsSpan(ids), skipSpecial: true);
        if (all.EndsWith('\uFFFD') && pending < MaxPendingTokens) return "";
        pending = 0;
        text.Clear().Append(all);
        return TakeReady(final: false);
    }

    /// <summary>Returns whatever is still held back (call at the end of generation).</summary>
    public string Flush()
    {
        if (!Stopped && pending > 0)
        {
            text.Clear().Append(tokenizer.Decode(CollectionsMarshal.AsSpan(ids), skipSpecial: true));
            pending = 0;
        }
        return TakeReady(final: true);
    }

    string TakeReady(bool final)
    {
        var all = text.ToString();
        if (!Stopped)
        {
            int stopAt = -1;
            foreach (var s in stopStrings)
            {
                if (s.Length == 0) continue;
                var i = all.IndexOf(s, Math.Max(0, emitted - s.Length + 1), StringComparison.Ordinal);
                if (i >= 0 && (stopAt < 0 || i < stopAt)) stopAt = i;
            }
            if (stopAt >= 0)
            {
                Stopped = true;
                text.Length = stopAt;
                all = all[..stopAt];
            }
        }
        int ready = all.Length;
        if (!final && !Stopped) ready -= HeldBackLength(all);
        if (ready <= emitted) return "";
        var result = all[emitted..ready];
        emitted = ready;
        return result;
    }

    /// <summary>Length of the longest tail of the text that is a proper prefix of some stop string.</summary>
    int HeldBackLength(string all)
    {
        int held = 0;
        foreach (var s in stopStrings)
            for (int n = Math.Min(s.Length - 1, all.Length); n > held; n--)
                if (all.AsSpan(all.Length - n).SequenceEqual(s.AsSpan(0, n))) { held = n; break; }
        return held;
    }
}
