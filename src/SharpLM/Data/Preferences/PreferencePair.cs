using SharpLM.Chat;
using SharpLM.Tokenization;

namespace SharpLM.Data;

/// <summary>
/// A preference pair rendered for training: prompt + chosen and prompt + rejected as token ids, each with only its
/// completion marked as trained (the assistant's answers after the prompt and what ends them, as the template marks
/// them), so the log-probabilities compared are those of the completions given the same prompt.
/// </summary>
public sealed record PreferencePair(TemplatedExample Chosen, TemplatedExample Rejected)
{
    /// <summary>Where the record came from, e.g. <c>pairs.jsonl:12</c>, for messages.</summary>
    public string Source => Chosen.Source;

    /// <summary>Renders both conversations with <paramref name="template"/>. The prompt's rendering (as for generation)
    /// must be where both renderings begin: the tokens after it are the completion.</summary>
    public static PreferencePair FromRecord(PreferenceRecord record, ChatTemplate template, ITokenizer tokenizer)
    {
        int[] prompt = template.RenderPrompt(tokenizer, record.Prompt);
        return new PreferencePair(Completion(record.ChosenConversation, prompt, template, tokenizer, "chosen"),
            Completion(record.RejectedConversation, prompt, template, tokenizer, "rejected"));
    }

    static TemplatedExample Completion(Conversation conversation, int[] prompt, ChatTemplate template, ITokenizer tokenizer, string name)
    {
        var rendered = template.Render(tokenizer, conversation);
        if (!rendered.Ids.AsSpan().StartsWith(prompt))
            throw new SharpLMException($"{conversation.Source}: template \"{template.Name}\" renders prompt + {name} so that it does not " +
                                       "begin with the prompt as rendered for generation; the completion cannot be told apart");
        var trained = rendered.InAnswer.ToArray();
        trained.AsSpan(0, prompt.Length).Clear();
        return new TemplatedExample(rendered.Ids, trained) { Source = conversation.Source };
    }
}
