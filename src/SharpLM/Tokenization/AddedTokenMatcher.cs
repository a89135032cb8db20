using System.Buffers;

namespace SharpLM.Tokenization;

/// <summary>Finds added tokens in text: the leftmost occurrence, the longest token where
/// several start at the same place (as Hugging Face's Aho-Corasick match does).</summary>
sealed class AddedTokenMatcher
{
    readonly SearchValues<char> firstChars;
    readonly Dictionary<char, AddedToken[]> byFirstChar;

    AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        byFirstChar = tokens.GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ThenBy(t => t.Id).ToArray());
        firstChars = SearchValues.Create(byFirstChar.Keys.ToArray());
    }

    /// <summary>A matcher for <paramref name="tokens"/>, or null when there are none.</summary>
    public static AddedTokenMatcher? Create(IEnumerable<AddedToken> tokens)
    {
        var list = tokens.ToList();
        return list.Count == 0 ? null : new AddedTokenMatcher(list);
    }

    /// <summary>Finds the first added token in <paramref name="text"/>.</summary>
    public bool TryFind(ReadOnlySpan<char> text, out int index, out AddedToken? token)
    {
        int offset = 0;
        while (true)
        {
            int i = text[offset..].IndexOfAny(firstChars);
            if (i < 0) break;
            index = offset + i;
            foreach (var candidate in byFirstChar[text[index]])
            {
                if (text[index..].StartsWith(candidate.Content, StringComparison.Ordinal))
                {
                    token = candidate;
                    return true;
                }
            }
            offset = index + 1;
        }
        index = -1;
        token = null;
        return false;
    }
}
