using SharpLM.Formats;
using SharpLM.Tokenization;

namespace SharpLM.Hub;

/// <summary>
/// The <c>tokenizer.ggml.*</c> metadata through which llama.cpp rebuilds a SharpLM tokenizer. Byte-level BPE becomes
/// llama.cpp's "gpt2" model with the pre-tokenizer named after its split regex: "gpt-2" (what SharpLM trains),
/// "smollm" (GPT-2's regex after splitting off digits) or "llama-bpe" (Llama-3). SentencePiece-style tokenizers
/// (Llama-2, Mistral, TinyLlama tokenizer.json; llama2.c's tokenizer.bin) become its "llama" model: pieces with
/// scores, byte tokens &lt;0xXX&gt;.
/// </summary>
public static class GgufTokenizerMetadata
{
    // llama.cpp's token types (llama_token_type).
    const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    /// <summary>Adds the tokenizer's metadata for a model with <paramref name="modelVocabSize"/> embedding rows;
    /// rows beyond the tokenizer's ids get unused placeholder tokens, as llama.cpp needs one token per row.</summary>
    /// <exception cref="SharpLMException">The tokenizer has more ids than the model, or is of an unsupported kind.</exception>
    public static void Add(GgufWriter writer, ITokenizer tokenizer, int modelVocabSize)
    {
        if (tokenizer.VocabSize > modelVocabSize)
            throw new SharpLMException($"the tokenizer has {tokenizer.VocabSize} tokens but the model only {modelVocabSize} embedding rows");
        switch (tokenizer)
        {
            case ByteLevelBpeTokenizer bpe: AddBpe(writer, bpe, modelVocabSize); break;
            case SentencePieceBpeTokenizer sentencePiece: AddSentencePieceBpe(writer, sentencePiece, modelVocabSize); break;
            case Llama2cTokenizer llama2c: AddLlama2c(writer, llama2c, modelVocabSize); break;
            default: throw new SharpLMException($"GGUF export does not know how to describe a {tokenizer.GetType().Name} to llama.cpp");
        }
        var special = tokenizer.Special;
        if (special.Bos is int bos) writer.Add("tokenizer.ggml.bos_token_id", (uint)bos);
        if (special.Eos is int eos) writer.Add("tokenizer.ggml.eos_token_id", (uint)eos);
        if (special.Unk is int unk) writer.Add("tokenizer.ggml.unknown_token_id", (uint)unk);
        if (special.Pad is int pad) writer.Add("tokenizer.ggml.padding_token_id", (uint)pad);
        // SharpLM trains on "[BOT] text [EOT]" (and llama2.c on "<s> text"), so prompts should begin with bos.
        writer.Add("tokenizer.ggml.add_bos_token", special.Bos is not null);
        writer.Add("tokenizer.ggml.add_eos_token", false);
    }

    static void AddBpe(GgufWriter writer, ByteLevelBpeTokenizer tokenizer, int size)
    {
        string pre = LlamaCppPreTokenizer(tokenizer);
        var added = tokenizer.AddedTokens.ToDictionary(t => t.Id);
        var (tokens, _, types) = Rows(size, id => tokenizer.IdToToken(id) is { } token
            ? (token, 0f, added.TryGetValue(id, out var a) ? (a.Special ? Control : UserDefined) : Normal)
            : null);
        writer.Add("tokenizer.ggml.model", "gpt2");
        writer.Add("tokenizer.ggml.pre", pre);
        writer.Add("tokenizer.ggml.tokens", tokens);
        writer.Add("tokenizer.ggml.token_type", types);
        // Byte-level tokens never contain a plain space (it is "Ġ"), so "left right" is unambiguous.
        writer.Add("tokenizer.ggml.merges", tokenizer.Merges.Select(m => $"{m.Left} {m.Right}").ToArray());
    }

    /// <summary>llama.cpp picks its split regex (and whether merges are skipped for whole-word tokens) by name;
    /// only the combinations it implements exactly as Hugging Face does are named, rather than letting llama.cpp
    /// silently tokenize differently.</summary>
    static string LlamaCppPreTokenizer(ByteLevelBpeTokenizer tokenizer) =>
        (tokenizer.PreTokenizer.Pattern, tokenizer.PreTokenizer.IndividualDigits, tokenizer.IgnoreMerges) switch
        {
            (PreTokenizer.Gpt2Pattern, false, false) => "gpt-2",
            (PreTokenizer.Gpt2Pattern, true, false) => "smollm",
            (PreTokenizer.Llama3Pattern, false, true) => "llama-bpe",
            (PreTokenizer.Qwen2Pattern, false, false) => "qwen2",
            _ => throw new SharpLMException(
                "GGUF export supports byte-level BPE tokenizers with GPT-2's split pattern (SharpLM's own, GPT-2), GPT-2's " +
                "pattern after splitting off digits (SmolLM, SmolLM2), Llama-3's pattern with ignore_merges (Llama-3.x) or Qwen2's; " +
                $"this one splits with /{tokenizer.PreTokenizer.Pattern}/" +
                (tokenizer.PreTokenizer.IndividualDigits ? " after splitting off every digit" : "") +
                (tokenizer.IgnoreMerges ? " with ignore_merges" : " without ignore_merges")),
        };

    /// <summary>A tokenizer.json SentencePiece-style BPE as llama.cpp's SentencePiece model, which merges the adjacent
    /// pair whose joined token scores highest: scoring each token by minus the rank of the first merge that makes it
    /// reproduces Hugging Face's lowest-rank-first merging.</summary>
    static void AddSentencePieceBpe(GgufWriter writer, SentencePieceBpeTokenizer tokenizer, int size)
    {
        bool addSpacePrefix = LlamaCppSpacePrefix(tokenizer.Options);
        var mergeRank = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int rank = 0; rank < tokenizer.Merges.Count; rank++)
            mergeRank.TryAdd(tokenizer.Merges[rank].Left + tokenizer.Merges[rank].Right, rank);
        var added = tokenizer.AddedTokens.ToDictionary(t => t.Id);
        AddSentencePieceRows(writer, Rows(size, id => tokenizer.IdToToken(id) is { } token
            ? (token,
               mergeRank.TryGetValue(token, out int rank) ? -rank : 0f,
               id == tokenizer.Special.Unk ? Unknown
               : added.TryGetValue(id, out var a) ? (a.Special ? Control : UserDefined)
               : IsByteToken(token) ? Byte
               : Normal)
            : null));
        writer.Add("tokenizer.ggml.add_space_prefix", addSpacePrefix);
    }

    /// <summary>Whether llama.cpp must put "▁" before the text, for the normalizer/pre-tokenizer layouts that its
    /// SentencePiece model reproduces (spaces become "▁", optionally one "▁" in front, no splitting).</summary>
    static bool LlamaCppSpacePrefix(SentencePieceBpeOptions options)
    {
        var spaces = new ReplaceNormalizer(" ", "\u2581");
        var prepend = new PrependNormalizer("\u2581");
        if (!options.ByteFallback)
            throw new SharpLMException("GGUF export supports SentencePiece-style tokenizers with byte_fallback (as Llama-2, Mistral and " +
                                       "TinyLlama have); llama.cpp would encode unknown characters as bytes where this one gives <unk>");
        if (options.PreTokenizer is null && options.Normalizer.SequenceEqual<NormalizerStep>([prepend, spaces])) return true;
        if (options.PreTokenizer is null && options.Normalizer.SequenceEqual<NormalizerStep>([spaces])) return false;
        if (options.PreTokenizer is { Replacement: '\u2581', Split: false } metaspace && options.Normalizer.Count == 0)
            return metaspace.Scheme != PrependScheme.Never;
        throw new SharpLMException("GGUF export supports SentencePiece-style tokenizers whose normalizer is " +
                                   "Prepend(\"\u2581\") + Replace(\" \", \"\u2581\") " +
                                   "(Llama-2, Mistral, TinyLlama) or whose pre-tokenizer is Metaspace without splitting; this one has " +
                                   $"normalizer [{string.Join(", ", options.Normalizer)}] " +
                                   $"and pre-tokenizer {options.PreTokenizer?.ToString() ?? "none"}");
    }

    static bool IsByteToken(string token) =>
        token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
        && Uri.IsHexDigit(token[3]) && Uri.IsHexDigit(token[4]);

    static void AddLlama2c(GgufWriter writer, Llama2cTokenizer tokenizer, int size) =>
        AddSentencePieceRows(writer, Rows(size, id => id < tokenizer.VocabSize
            // llama2.c stored SentencePiece's "▁" as a plain space; llama.cpp's "llama" model expects "▁" back.
            ? (tokenizer.IdToToken(id)!.Replace(' ', '\u2581'),
               tokenizer.Scores[id],
               id switch
               {
                   0 => Unknown,
                   1 or 2 => Control,
                   < Llama2cTokenizer.ByteTokenOffset + 256 => Byte,
                   _ => Normal,
               })
            : null));

    static void AddSentencePieceRows(GgufWriter writer, (string[] Tokens, float[] Scores, int[] Types) rows)
    {
        writer.Add("tokenizer.ggml.model", "llama");
        writer.Add("tokenizer.ggml.pre", "default");
        writer.Add("tokenizer.ggml.tokens", rows.Tokens);
        writer.Add("tokenizer.ggml.scores", rows.Scores);
        writer.Add("tokenizer.ggml.token_type", rows.Types);
    }

    /// <summary>One token, score and type per embedding row; rows the tokenizer has no token for (<paramref name="row"/>
    /// gives null) become unused placeholders, as llama.cpp needs one token per row.</summary>
    static (string[] Tokens, float[] Scores, int[] Types) Rows(int size, Func<int, (string Token, float Score, int Type)?> row)
    {
        var (tokens, scores, types) = (new string[size], new float[size], new int[size]);
        for (int id = 0; id < size; id++)
            (tokens[id], scores[id], types[id]) = row(id) ?? ($"[PAD{id}]", float.MinValue, Unused);
        return (tokens, scores, types);
    }
}
