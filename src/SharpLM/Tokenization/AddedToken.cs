namespace SharpLM.Tokenization;

/// <summary>A token matched in text as a whole before pre-tokenization (Hugging Face's
/// "added_tokens"). Special ones ([PAD], [BOT], ...) are matched only when the caller allows it;
/// other added tokens are always matched, as in Hugging Face.</summary>
/// <param name="Normalized">Matched in the normalized text rather than the raw text (Hugging Face's
/// "normalized"); only tokenizers with a normalizer (<see cref="SentencePieceBpeTokenizer"/>) tell the difference.</param>
public sealed record AddedToken(int Id, string Content, bool Special = true, bool Normalized = false)
{
    /// <summary>Special tokens for <paramref name="contents"/> at the ids after <paramref name="tokenizer"/>'s last.</summary>
    /// <exception cref="SharpLMException">A token is already in the vocabulary.</exception>
    public static IEnumerable<AddedToken> AfterVocabulary(ITokenizer tokenizer, IReadOnlyList<string> contents)
    {
        if (contents.FirstOrDefault(c => tokenizer.TokenToId(c) is not null) is { } present)
            throw new SharpLMException($"cannot add \"{present}\": the tokenizer already has it (id {tokenizer.TokenToId(present)})");
        return contents.Select((content, i) => new AddedToken(tokenizer.VocabSize + i, content));
    }
}
