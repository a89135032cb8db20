using System.Text;
using SharpLM.Chat;
using SharpLM.Generation;
using SharpLM.Model;
using SharpLM.Tokenization;

namespace SharpLM.Evaluation;

/// <summary>A prompt (already templated and tokenized) and the answer expected after it.</summary>
public sealed record ExactMatchItem(int[] PromptIds, string Reference, string Label = "")
{
    /// <summary>The conversation up to its last answer, rendered as a prompt; the last answer is the reference.</summary>
    public static ExactMatchItem FromConversation(Conversation conversation, ChatTemplate template, ITokenizer tokenizer)
    {
        var messages = conversation.Messages;
        var question = messages.Count >= 2 ? messages[^2].Content : "";
        return new ExactMatchItem(template.RenderPrompt(tokenizer, messages.Take(messages.Count - 1).ToList()), messages[^1].Content, question);
    }
}

/// <summary>How many greedy answers matched; a few of them for display.</summary>
public sealed record ExactMatchReport(int Total, int Correct, IReadOnlyList<(string Label, string Expected, string Got, bool Match)> Samples)
{
    public double Rate => Total == 0 ? 0 : (double)Correct / Total;
}

/// <summary>
/// Generation-based exact match: greedy decoding from each prompt until the end token or a stop string, then the
/// normalised output is compared with the normalised reference. Normalisation: lower case (invariant culture),
/// runs of whitespace collapsed to one space, leading/trailing whitespace and one trailing period removed. It forgives formatting, not content.
/// </summary>
public static class ExactMatch
{
    public static string Normalize(string text)
    {
        var s = text.ToLowerInvariant();
        var sb = new StringBuilder(s.Length);
        bool space = false;
        foreach (var c in s)
        {
            if (char.IsWhiteSpace(c)) { space = sb.Length > 0; continue; }
            if (space) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        if (sb.Length > 0 && sb[^1] == '.') sb.Length--;
        return sb.ToString().TrimEnd();
    }

    /// <summary>The greedy continuation of a prompt, as text, up to the end token or a stop string.</summary>
    public static string GreedyAnswer(TokenGenerator generator, ITokenizer tokenizer, int[] promptIds, IReadOnlySet<int> stopTokens,
        IReadOnlyList<string> stopStrings, int maxNewTokens)
    {
        var options = SamplingOptions.Greedy with { MaxNewTokens = maxNewTokens, StopStrings = stopStrings };
        return generator.GenerateText(new GenerationRequest(promptIds, options, stopTokens), tokenizer).Text;
    }

    public static ExactMatchReport Evaluate(LlamaForCausalLM model, ITokenizer tokenizer, IReadOnlyList<ExactMatchItem> items,
        IReadOnlySet<int> stopTokens, IReadOnlyList<string> stopStrings, int maxNewTokens, int samplesToKeep = 5,
        Action<int, int>? progress = null)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            var generator = new TokenGenerator(model);
            int correct = 0;
            var samples = new List<(string, string, string, bool)>();
            for (int i = 0; i < items.Count; i++)
            {
                var item = items[i];
                // An answer much longer than the reference cannot match it: stop there instead of at maxNewTokens.
                var limit = Math.Min(maxNewTokens, tokenizer.Encode(item.Reference).Length + 4);
                var got = GreedyAnswer(generator, tokenizer, item.PromptIds, stopTokens, stopStrings, limit);
                bool match = Normalize(got) == Normalize(item.Reference);
                if (match) correct++;
                if (samples.Count < samplesToKeep) samples.Add((item.Label, item.Reference, got, match));
                progress?.Invoke(i + 1, items.Count);
            }
            return new ExactMatchReport(items.Count, correct, samples);
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
