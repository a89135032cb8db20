using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Chat;

/// <summary>Shows a rendered conversation as text with the marked tokens in «» (the answers a template marks, or the
/// tokens an example trains), so tests can state exactly what is marked in one readable string.</summary>
static class Marked
{
    public static string Show(ITokenizer tokenizer, RenderedConversation rendered) => Show(tokenizer, rendered.Ids, rendered.InAnswer);

    public static string Show(ITokenizer tokenizer, TemplatedExample example) => Show(tokenizer, example.Ids, example.Trained);

    static string Show(ITokenizer tokenizer, int[] ids, bool[] marked)
    {
        Assert.Equal(ids.Length, marked.Length);
        var text = new System.Text.StringBuilder();
        int start = 0;
        for (int i = 1; i <= ids.Length; i++)
        {
            if (i < ids.Length && marked[i] == marked[start]) continue;
            string piece = tokenizer.Decode(ids.AsSpan(start, i - start));
            text.Append(marked[start] ? $"«{piece}»" : piece);
            start = i;
        }
        return text.ToString();
    }
}
