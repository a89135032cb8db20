using SharpLM.Data;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Data.Instructions;

/// <summary>Shows a rendered example as text with the trained tokens in «», so tests can state exactly what is
/// trained in one readable string.</summary>
static class Marked
{
    public static string Show(ITokenizer tokenizer, TemplatedExample example)
    {
        Assert.Equal(example.Ids.Length, example.Trained.Length);
        var text = new System.Text.StringBuilder();
        int start = 0;
        for (int i = 1; i <= example.Ids.Length; i++)
        {
            if (i < example.Ids.Length && example.Trained[i] == example.Trained[start]) continue;
            string piece = tokenizer.Decode(example.Ids.AsSpan(start, i - start));
            text.Append(example.Trained[start] ? $"«{piece}»" : piece);
            start = i;
        }
        return text.ToString();
    }
}
