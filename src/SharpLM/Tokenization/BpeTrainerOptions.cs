namespace SharpLM.Tokenization;

/// <summary>Settings for <see cref="BpeTrainer"/>.</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>SharpLM's special tokens: padding, beginning of text, end of text, unknown.</summary>
    public static IReadOnlyList<string> DefaultSpecialTokens { get; } = ["[PAD]", "[BOT]", "[EOT]", "[UNK]"];

    /// <summary>ChatML's turn markers, which `sharplm tokenizer train` adds after <see cref="DefaultSpecialTokens"/> so
    /// that fine-tunes can use ChatML (the chat format llama.cpp, Ollama and most tools recognise) with one token each.</summary>
    public static IReadOnlyList<string> ChatMlMarkers { get; } = ["<|im_start|>", "<|im_end|>"];

    /// <summary>Total vocabulary size: special tokens + 256 byte tokens + merged tokens.</summary>
    public int VocabSize { get; init; } = 8000;

    /// <summary>Pairs seen fewer times than this in the corpus are never merged.</summary>
    public long MinFrequency { get; init; } = 2;

    /// <summary>Special tokens, given ids 0..n-1 in this order.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = DefaultSpecialTokens;

    /// <summary>How documents are split into words; GPT-2's regex (Hugging Face's ByteLevel) by default.</summary>
    public PreTokenizer PreTokenizer { get; init; } = PreTokenizer.Gpt2;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="SharpLMException">A setting is out of range.</exception>
    public void Validate()
    {
        int minimum = SpecialTokens.Count + 256;
        if (VocabSize < minimum)
            throw new SharpLMException($"Vocabulary size {VocabSize} is too small: it must be at least {minimum} " +
                                       $"({SpecialTokens.Count} special tokens + 256 byte tokens).");
        if (MinFrequency < 1) throw new SharpLMException($"Minimum frequency must be at least 1, got {MinFrequency}.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var token in SpecialTokens)
        {
            if (string.IsNullOrEmpty(token)) throw new SharpLMException("Special tokens must not be empty.");
            if (!seen.Add(token)) throw new SharpLMException($"Special token \"{token}\" is listed twice.");
            if (token.Length == 1 && ByteLevelAlphabet.TryCharToByte(token[0], out _))
                throw new SharpLMException($"Special token \"{token}\" collides with a byte token; use a longer name such as [{token}].");
            for (int i = 0; i < token.Length; i++)
            {
                if (char.IsSurrogatePair(token, i)) i++;
                else if (char.IsSurrogate(token[i]))
                    throw new SharpLMException($"Special token \"{token}\" contains a lone surrogate (it could not be saved as JSON).");
            }
        }
    }
}
