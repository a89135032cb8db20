namespace SharpLM.Tokenization;

/// <summary>
/// How a <see cref="SentencePieceBpeTokenizer"/> turns text into model input and back: the parts of a
/// SentencePiece-style tokenizer.json other than the vocabulary, merges and added tokens. The
/// defaults are those of Llama-2, Mistral-7B and TinyLlama.
/// </summary>
public sealed record SentencePieceBpeOptions
{
    /// <summary>Model's unknown token (model.unk_token); unknown characters are dropped when null.</summary>
    public string? UnkToken { get; init; } = "<unk>";

    /// <summary>Characters missing from the vocabulary become their UTF-8 bytes as &lt;0xXX&gt; tokens (model.byte_fallback).</summary>
    public bool ByteFallback { get; init; } = true;

    /// <summary>Consecutive unknown characters become one unknown token (model.fuse_unk).</summary>
    public bool FuseUnk { get; init; } = true;

    /// <summary>Normalizer steps, in order; none when empty.</summary>
    public IReadOnlyList<NormalizerStep> Normalizer { get; init; } = [new PrependNormalizer("\u2581"), new ReplaceNormalizer(" ", "\u2581")];

    /// <summary>The Metaspace pre-tokenizer, or null for none (then each stretch of text is one word).</summary>
    public MetaspacePreTokenizer? PreTokenizer { get; init; }

    /// <summary>Decoder steps, in order; null means no decoder, where Hugging Face joins tokens with spaces.</summary>
    public IReadOnlyList<DecoderStep>? Decoder { get; init; } =
        [new ReplaceDecoder("\u2581", " "), new ByteFallbackDecoder(), new FuseDecoder(), new StripDecoder(' ', 1, 0)];

    /// <summary>The file's post_processor as raw JSON, written back by Save. SharpLM itself never adds
    /// bos/eos while encoding: callers do.</summary>
    public string? PostProcessorJson { get; init; }
}
