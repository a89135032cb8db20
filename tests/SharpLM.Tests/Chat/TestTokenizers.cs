using SharpLM.Tests.Tokenization;
using SharpLM.Tokenization;

namespace SharpLM.Tests.Chat;

/// <summary>Tokenizers for template tests, trained once.</summary>
static class TestTokenizers
{
    static readonly Lazy<ByteLevelBpeTokenizer> chatMl = new(() => new BpeTrainer(new BpeTrainerOptions
    {
        VocabSize = 330,
        SpecialTokens = [.. BpeTrainerOptions.DefaultSpecialTokens, "<|im_start|>", "<|im_end|>"],
    }).Train(TestCorpus.Documents(100)));

    static readonly Lazy<ByteLevelBpeTokenizer> padOnly = new(() =>
        new BpeTrainer(new BpeTrainerOptions { VocabSize = 270, SpecialTokens = ["[PAD]"] }).Train(TestCorpus.Documents(20)));

    /// <summary>Byte-level BPE with merges, [PAD] [BOT] [EOT] [UNK], and &lt;|im_start|&gt; &lt;|im_end|&gt; as special tokens.</summary>
    public static ByteLevelBpeTokenizer ChatMl => chatMl.Value;

    /// <summary>Byte-level BPE whose only special token is [PAD]: no begin or end token.</summary>
    public static ByteLevelBpeTokenizer PadOnly => padOnly.Value;

    public static ITokenizer Get(string name) => name switch
    {
        "bytes" => new TestByteTokenizer(),
        "bpe" => ChatMl,
        _ => throw new ArgumentException(name),
    };
}
