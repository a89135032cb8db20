using System.Text.Json;
using static SharpLM.Tokenization.TokenizerJson;

namespace SharpLM.Tokenization;

/// <summary>Opens a tokenizer from a file or a model folder: a Hugging Face <c>tokenizer.json</c> (the class chosen
/// by the file's kind: byte-level BPE (GPT-2, Llama-3, SharpLM's own) when the pre-tokenizer or decoder is ByteLevel,
/// else SentencePiece-style BPE (Llama-2, Mistral)), or else a llama2.c <c>tokenizer.bin</c>.</summary>
public static class TokenizerLoader
{
    /// <exception cref="SharpLMException">The file is missing, not JSON, or not a supported tokenizer;
    /// the message names the file and the field.</exception>
    public static ITokenizer Load(string path)
    {
        if (Directory.Exists(path))
        {
            string json = Path.Combine(path, TokenizerJson.FileName), bin = Path.Combine(path, Llama2cTokenizerFile.DefaultFileName);
            if (!Exists(json) && Exists(bin)) return Llama2cTokenizer.Load(bin);
            if (!Exists(json)) throw new SharpLMException($"tokenizer not found: {json} (nor a llama2.c {Llama2cTokenizerFile.DefaultFileName})");
            return WithConfiguredSpecials(Parse(ReadFile(json), json), Path.Combine(path, TokenizerConfigFile.FileName));
        }
        if (!File.Exists(path))
            throw new SharpLMException($"tokenizer not found: {path}");
        return path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) ? Llama2cTokenizer.Load(path) : Parse(ReadFile(path), path);
    }

    static byte[] ReadFile(string path) => IO.InputFile.ReadAllBytes(path, "tokenizer", TokenizerJson.MaxFileBytes);

    // A folder or FIFO in a file's place counts as there, so that reading it fails with the reason.
    static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    /// <summary>A model folder's tokenizer_config.json says which tokens are bos, eos and pad (a null meaning none),
    /// which SharpLM otherwise guesses from conventional names; a token it names that the vocabulary lacks is ignored.</summary>
    static ITokenizer WithConfiguredSpecials(ITokenizer tokenizer, string configPath)
    {
        if (!Exists(configPath)) return tokenizer;
        using var config = IO.JsonFile.Read(configPath, TokenizerConfigFile.FileName);
        if (config.RootElement.ValueKind != JsonValueKind.Object) return tokenizer;
        var declared = TokenizerConfigFile.SpecialTokens(config.RootElement);
        int? Role(string key, int? guessed) =>
            !declared.TryGetValue(key, out var token) ? guessed
            : token is null ? null
            : tokenizer.TokenToId(token) ?? guessed;
        var s = tokenizer.Special;
        var configured = new SpecialTokenIds(Role("pad_token", s.Pad), Role("bos_token", s.Bos), Role("eos_token", s.Eos), Role("unk_token", s.Unk));
        switch (tokenizer)
        {
            case ByteLevelBpeTokenizer b: b.Special = configured; break;
            case SentencePieceBpeTokenizer p: p.Special = configured; break;
        }
        return tokenizer;
    }

    /// <summary>Parses tokenizer.json content; <paramref name="source"/> names it in error messages.</summary>
    public static ITokenizer Parse(ReadOnlyMemory<byte> json, string source) => ParseDocument(json, source, root => Read(root, source));

    static ITokenizer Read(JsonElement root, string source)
    {
        Expect(root, JsonValueKind.Object, null);
        if (Property(root, "model") is { ValueKind: JsonValueKind.Object } model
            && OptionalString(model, "type", "model.type") is { } type and not "BPE")
            throw new SharpLMException($"model.type: \"{type}\" is not supported (SharpLM reads BPE tokenizers: " +
                "byte-level like GPT-2 and Llama-3, or SentencePiece-style like Llama-2 and Mistral).");
        bool byteLevel = Mentions(Property(root, "pre_tokenizer"), "pretokenizers") || Mentions(Property(root, "decoder"), "decoders");
        return byteLevel ? TokenizerJson.Read(root, source) : SentencePieceBpeJson.Read(root);
    }

    // Whether a component, or a step of a Sequence of them, has type ByteLevel.
    static bool Mentions(JsonElement? component, string steps) => component is { ValueKind: JsonValueKind.Object } c
        && c.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
        && (type.GetString() == "ByteLevel"
            || (type.GetString() == "Sequence" && c.TryGetProperty(steps, out var list) && list.ValueKind == JsonValueKind.Array
                && list.EnumerateArray().Any(step => Mentions(step, steps))));
}
