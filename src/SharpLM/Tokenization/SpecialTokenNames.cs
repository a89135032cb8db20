namespace SharpLM.Tokenization;

/// <summary>
/// Which token plays pad, bos, eos and unk, found by conventional name. The first name in each
/// list that the tokenizer knows wins, so SharpLM's own [PAD]/[BOT]/[EOT]/[UNK] come first,
/// then the names of Llama-2/Mistral (&lt;s&gt;), Llama-3 (&lt;|begin_of_text|&gt;) and
/// GPT-2/SmolLM (&lt;|endoftext|&gt;, both bos and eos there).
/// </summary>
public static class SpecialTokenNames
{
    /// <summary>Padding token names, in order of preference.</summary>
    public static IReadOnlyList<string> Pad { get; } = ["[PAD]", "<pad>", "<|pad|>", "<|padding|>"];

    /// <summary>Beginning-of-text token names, in order of preference.</summary>
    public static IReadOnlyList<string> Bos { get; } = ["[BOT]", "[BOS]", "<s>", "<|begin_of_text|>", "<|startoftext|>", "<|endoftext|>"];

    /// <summary>End-of-text token names, in order of preference (&lt;|im_end|&gt; only when nothing else exists).</summary>
    public static IReadOnlyList<string> Eos { get; } = ["[EOT]", "[EOS]", "</s>", "<|end_of_text|>", "<|endoftext|>", "<|im_end|>"];

    /// <summary>Unknown-token names, in order of preference (after the model's own unk_token).</summary>
    public static IReadOnlyList<string> Unk { get; } = ["[UNK]", "<unk>", "<|unk|>"];

    /// <summary>Resolves the ids with <paramref name="tokenToId"/>; <paramref name="unkToken"/>
    /// (the model's declared unknown token) takes precedence for unk. Pad, bos and eos are looked up with
    /// <paramref name="addedTokenToId"/> when given: only added tokens play those roles (Qwen's vocabulary has an
    /// ordinary "&lt;s&gt;" that is no begin token).</summary>
    public static SpecialTokenIds Resolve(Func<string, int?> tokenToId, string? unkToken = null, Func<string, int?>? addedTokenToId = null)
    {
        int? First(IEnumerable<string> names, Func<string, int?> lookup) => names.Select(lookup).FirstOrDefault(id => id is not null);
        var role = addedTokenToId ?? tokenToId;
        return new SpecialTokenIds(
            First(Pad, role), First(Bos, role), First(Eos, role),
            First(unkToken is null ? Unk : Unk.Prepend(unkToken), tokenToId));
    }
}
