using SharpLM.Tokenization;

namespace SharpLM.Formats;

/// <summary>
/// The <c>tokenizer.ggml.*</c> metadata through which llama.cpp rebuilds a SharpLM tokenizer: byte-level BPE as
/// llama.cpp's "gpt2" model with the "gpt-2" pre-tokenizer (GPT-2's split regex, which SharpLM trains with), and
/// llama2.c's tokenizer as its SentencePiece "llama" model (pieces with scores; byte tokens &lt;0xXX&gt;).
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
            case Llama2cTokenizer sentencePiece: AddSentencePiece(writer, sentencePiece, modelVocabSize); break;
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
        // llama.cpp picks its split regex by name; only GPT-2's (what SharpLM trains) is matched here, rather than
        // letting llama.cpp silently tokenize differently.
        if (!tokenizer.PreTokenizer.HasGpt2Pattern || tokenizer.PreTokenizer.IndividualDigits || tokenizer.IgnoreMerges)
            throw new SharpLMException("GGUF export supports byte-level BPE tokenizers that split text with GPT-2's pattern and apply every merge " +
                                       $"(as `sharplm tokenizer train` makes them); this one uses /{tokenizer.PreTokenizer.Pattern}/" +
                                       (tokenizer.PreTokenizer.IndividualDigits ? " after splitting off every digit" : "") +
                                       (tokenizer.IgnoreMerges ? " with ignore_merges" : ""));
        var tokens = new string[size];
        var types = new int[size];
        var added = tokenizer.AddedTokens.ToDictionary(t => t.Id);
        for (int id = 0; id < size; id++)
        {
            if (tokenizer.IdToToken(id) is not { } token)
            {
                (tokens[id], types[id]) = ($"[PAD{id}]", Unused);
                continue;
            }
            tokens[id] = token;
            types[id] = added.TryGetValue(id, out var a) ? (a.Special ? Control : UserDefined) : Normal;
        }
        writer.Add("tokenizer.ggml.model", "gpt2");
        writer.Add("tokenizer.ggml.pre", "gpt-2");
        writer.Add("tokenizer.ggml.tokens", tokens);
        writer.Add("tokenizer.ggml.token_type", types);
        // Byte-level tokens never contain a plain space (it is "Ġ"), so "left right" is unambiguous.
        writer.Add("tokenizer.ggml.merges", tokenizer.Merges.Select(m => $"{m.Left} {m.Right}").ToArray());
    }

    static void AddSentencePiece(GgufWriter writer, Llama2cTokenizer tokenizer, int size)
    {
        var tokens = new string[size];
        var scores = new float[size];
        var types = new int[size];
        for (int id = 0; id < size; id++)
        {
            if (id >= tokenizer.VocabSize)
            {
                (tokens[id], scores[id], types[id]) = ($"[PAD{id}]", float.MinValue, Unused);
                continue;
            }
            // llama2.c stored SentencePiece's "▁" as a plain space; llama.cpp's "llama" model expects "▁" back.
            tokens[id] = tokenizer.IdToToken(id)!.Replace(' ', '\u2581');
            scores[id] = tokenizer.Scores[id];
            types[id] = id switch
            {
                0 => Unknown,
                1 or 2 => Control,
                < Llama2cTokenizer.ByteTokenOffset + 256 => Byte,
                _ => Normal,
            };
        }
        writer.Add("tokenizer.ggml.model", "llama");
        writer.Add("tokenizer.ggml.pre", "default");
        writer.Add("tokenizer.ggml.tokens", tokens);
        writer.Add("tokenizer.ggml.scores", scores);
        writer.Add("tokenizer.ggml.token_type", types);
    }
}
