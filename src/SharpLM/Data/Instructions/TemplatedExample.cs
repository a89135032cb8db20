using SharpLM.Chat;
using SharpLM.Tokenization;

namespace SharpLM.Data;

/// <summary>
/// A conversation or text rendered to token ids, with the tokens to learn marked: by default the assistant's answers
/// and what ends them (as the <see cref="ChatTemplate"/> marks them), every token with <c>trainOnPrompt</c>; never the first.
/// </summary>
/// <param name="Ids">The token ids, begin token first when the tokenizer has one.</param>
/// <param name="Trained">One flag per token: <c>Trained[i]</c> means token <c>i</c> is a target, i.e. the model is
/// trained to predict <c>Ids[i]</c> from <c>Ids[0..i-1]</c>. In next-token (shifted) terms it is the label at
/// position <c>i - 1</c>; <see cref="InstructionDataset"/> makes that shift. <c>Trained[0]</c> is always false,
/// since nothing comes before the first token to predict it.</param>
public sealed record TemplatedExample(int[] Ids, bool[] Trained)
{
    /// <summary>Where the record came from, e.g. <c>chat.jsonl:12</c>, for messages.</summary>
    public string Source { get; init; } = "";

    /// <summary>A record for training: a conversation rendered with <paramref name="template"/> (see
    /// <see cref="FromConversation"/>), a text as <see cref="FromText"/> does.</summary>
    public static TemplatedExample FromRecord(InstructionRecord record, ChatTemplate template, ITokenizer tokenizer, bool trainOnPrompt = false) =>
        record.Conversation is { } conversation
            ? FromConversation(conversation, template, tokenizer, trainOnPrompt)
            : FromText(record.Text!, tokenizer) with { Source = record.Source };

    /// <summary>A conversation for training: the template's rendering, trained on the assistant's answers and what ends
    /// them; <paramref name="trainOnPrompt"/> trains every token but the first.</summary>
    public static TemplatedExample FromConversation(Conversation conversation, ChatTemplate template, ITokenizer tokenizer,
        bool trainOnPrompt = false)
    {
        var rendered = template.Render(tokenizer, conversation);
        var trained = trainOnPrompt ? Enumerable.Repeat(true, rendered.Ids.Length).ToArray() : rendered.InAnswer.ToArray();
        return Targets(rendered.Ids, trained) with { Source = conversation.Source };
    }

    /// <summary>Plain text for continued pretraining: begin token (when the tokenizer has one), the text, end token;
    /// every token after the first trained.</summary>
    public static TemplatedExample FromText(string text, ITokenizer tokenizer)
    {
        int eos = tokenizer.Special.Eos ?? throw new SharpLMException("the tokenizer has no end token, which plain-text examples end with");
        int[] content = tokenizer.Encode(text, allowSpecial: false);
        int[] ids = tokenizer.Special.Bos is { } bos ? [bos, .. content, eos] : [.. content, eos];
        return Targets(ids, Enumerable.Repeat(true, ids.Length).ToArray());
    }

    // Nothing predicts the first token, whatever else is trained.
    static TemplatedExample Targets(int[] ids, bool[] trained)
    {
        if (trained.Length > 0) trained[0] = false;
        return new TemplatedExample(ids, trained);
    }

    /// <summary>Number of tokens marked as targets.</summary>
    public int TrainedTokens => Trained.Count(t => t);

    /// <summary>Cuts a long example into pieces of at most <paramref name="maxLength"/> + 1 tokens that overlap by
    /// one, so every target stays a target exactly once (each piece's first token is only context). For domain text,
    /// where truncating a long document would throw most of it away.</summary>
    public IEnumerable<TemplatedExample> Chunks(int maxLength)
    {
        if (maxLength < 1) throw new SharpLMException($"the maximum length must be at least 1 token, got {maxLength}");
        if (Ids.Length <= maxLength + 1L) // long: int.MaxValue + 1 must not wrap around
        {
            yield return this;
            yield break;
        }
        for (int start = 0; start < Ids.Length - 1; start += maxLength)
        {
            int length = Math.Min(maxLength + 1, Ids.Length - start);
            var trained = Trained[start..(start + length)];
            trained[0] = false;
            yield return new TemplatedExample(Ids[start..(start + length)], trained) { Source = $"{Source} (tokens {start}-{start + length - 1})" };
        }
    }
}
