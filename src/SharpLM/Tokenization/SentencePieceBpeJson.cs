using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using static SharpLM.Tokenization.TokenizerJson;

namespace SharpLM.Tokenization;

/// <summary>
/// Reads and writes Hugging Face tokenizer.json files for SentencePiece-style BPE (Llama-2,
/// Mistral-7B, TinyLlama), see <see cref="SentencePieceBpeTokenizer"/>.
/// </summary>
/// <remarks>
/// Read: model type BPE with unk_token, fuse_unk and byte_fallback; a normalizer made of Prepend and
/// Replace (String pattern) steps, alone or in a Sequence, or none; a Metaspace pre-tokenizer
/// (prepend_scheme and split, or the legacy add_prefix_space) or none; a decoder made of Replace,
/// ByteFallback, Fuse, Strip and Metaspace steps, or none. Added tokens keep their "normalized"
/// flag. Anything else (other normalizers such as NFKC, other pre-tokenizers, dropout, ignore_merges,
/// subword prefixes/suffixes, stripped added tokens) is refused with a <see cref="SharpLMException"/>
/// naming the file and field. The post_processor is kept verbatim and written back; truncation and
/// padding are ignored. Write: the same structure (normalizer and decoder as a Sequence, Metaspace
/// in its current prepend_scheme form), so Hugging Face encodes the written file the same way.
/// </remarks>
public static class SentencePieceBpeJson
{
    const string Supported = "SentencePiece-style BPE";

    /// <summary>Loads a tokenizer.json file.</summary>
    /// <exception cref="SharpLMException">The file is missing, not JSON, or not a supported tokenizer.</exception>
    public static SentencePieceBpeTokenizer Load(string path)
    {
        return Parse(IO.InputFile.ReadAllBytes(path, "tokenizer", TokenizerJson.MaxFileBytes), path);
    }

    /// <summary>Parses tokenizer.json content; <paramref name="source"/> names it in error messages.</summary>
    public static SentencePieceBpeTokenizer Parse(ReadOnlyMemory<byte> json, string source) => ParseDocument(json, source, Read);

    /// <summary>Writes <paramref name="tokenizer"/> to <paramref name="path"/> atomically, creating the folder if needed.</summary>
    public static void Save(SentencePieceBpeTokenizer tokenizer, string path) => WriteAtomically(path, Serialize(tokenizer));

    /// <summary>The tokenizer.json bytes (UTF-8, indented); the same tokenizer always gives the same bytes.</summary>
    public static byte[] Serialize(SentencePieceBpeTokenizer tokenizer)
    {
        var options = tokenizer.Options;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            foreach (var t in tokenizer.AddedTokens.OrderBy(t => t.Id))
            {
                w.WriteStartObject();
                w.WriteNumber("id", t.Id);
                w.WriteString("content", t.Content);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", t.Normalized);
                w.WriteBoolean("special", t.Special);
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WritePropertyName("normalizer");
            if (options.Normalizer.Count == 0) w.WriteNullValue();
            else WriteSequence(w, "normalizers", options.Normalizer, WriteNormalizer);
            w.WritePropertyName("pre_tokenizer");
            if (options.PreTokenizer is { } metaspace) WriteMetaspace(w, metaspace.Replacement, metaspace.Scheme, metaspace.Split);
            else w.WriteNullValue();
            w.WritePropertyName("post_processor");
            if (options.PostProcessorJson is { } post) w.WriteRawValue(post);
            else w.WriteNullValue();
            w.WritePropertyName("decoder");
            if (options.Decoder is { } decoder) WriteSequence(w, "decoders", decoder, WriteDecoder);
            else w.WriteNullValue();

            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            if (options.UnkToken is null) w.WriteNull("unk_token");
            else w.WriteString("unk_token", options.UnkToken);
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", options.FuseUnk);
            w.WriteBoolean("byte_fallback", options.ByteFallback);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            foreach (var (token, id) in tokenizer.Vocab.OrderBy(kv => kv.Value))
                w.WriteNumber(token, id);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var (left, right) in tokenizer.Merges)
            {
                w.WriteStartArray();
                w.WriteStringValue(left);
                w.WriteStringValue(right);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    internal static SentencePieceBpeTokenizer Read(JsonElement root)
    {
        Expect(root, JsonValueKind.Object, null);
        var normalizer = new List<NormalizerStep>();
        if (Property(root, "normalizer") is { } normalizerJson) ReadNormalizer(normalizerJson, "normalizer", normalizer);
        var preTokenizer = Property(root, "pre_tokenizer") is { } pre ? ReadPreTokenizer(pre) : null;
        List<DecoderStep>? decoder = null;
        if (Property(root, "decoder") is { } decoderJson)
        {
            decoder = [];
            ReadDecoder(decoderJson, "decoder", decoder);
        }

        var model = Property(root, "model") ?? throw IO.JsonFile.Missing("model");
        Expect(model, JsonValueKind.Object, "model");
        string type = OptionalString(model, "type", "model.type") ?? "BPE";
        if (type != "BPE") throw new SharpLMException($"model.type: \"{type}\" is not supported (expected BPE).");
        if (Property(model, "dropout") is { } dropout && (dropout.ValueKind != JsonValueKind.Number || dropout.GetDouble() != 0))
            throw new SharpLMException("model.dropout: BPE dropout is not supported (expected null).");
        foreach (var name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (OptionalString(model, name, $"model.{name}") is { Length: > 0 } affix)
                throw new SharpLMException($"model.{name}: \"{affix}\" is not supported (expected null).");
        if (OptionalBool(model, "ignore_merges", "model.ignore_merges"))
            throw new SharpLMException($"model.ignore_merges: true is not supported for {Supported} (expected false).");

        var vocab = ReadVocab(model);
        var merges = ReadMerges(model);
        var added = ReadAddedTokens(root, readNormalized: true);
        CheckAddedTokenIds(added, vocab);
        return new SentencePieceBpeTokenizer(vocab, merges, added, new SentencePieceBpeOptions
        {
            UnkToken = OptionalString(model, "unk_token", "model.unk_token"),
            FuseUnk = OptionalBool(model, "fuse_unk", "model.fuse_unk"),
            ByteFallback = OptionalBool(model, "byte_fallback", "model.byte_fallback"),
            Normalizer = normalizer,
            PreTokenizer = preTokenizer,
            Decoder = decoder,
            PostProcessorJson = Property(root, "post_processor")?.GetRawText(),
        });
    }

    static void ReadNormalizer(JsonElement json, string at, List<NormalizerStep> steps)
    {
        switch (TypeName(json, at))
        {
            case "Sequence":
                ReadSequence(json, at, "normalizers", (step, stepAt) => ReadNormalizer(step, stepAt, steps));
                break;
            case "Prepend":
                steps.Add(new PrependNormalizer(OptionalString(json, "prepend", $"{at}.prepend") ?? throw IO.JsonFile.Missing($"{at}.prepend")));
                break;
            case "Replace":
                var (pattern, content) = ReadReplace(json, at);
                steps.Add(new ReplaceNormalizer(pattern, content));
                break;
            case var other:
                throw new SharpLMException($"{at}: type {other} is not supported (a {Supported} normalizer has Prepend and Replace steps only).");
        }
    }

    static MetaspacePreTokenizer ReadPreTokenizer(JsonElement json)
    {
        const string at = "pre_tokenizer";
        string type = TypeName(json, at);
        if (type != "Metaspace") throw new SharpLMException($"{at}: type {type} is not supported (expected Metaspace or null for {Supported}).");
        bool split = Property(json, "split") is not { } s || ReadBool(s, $"{at}.split");
        return new MetaspacePreTokenizer(ReadChar(json, "replacement", at), ReadPrependScheme(json, at), split);
    }

    static void ReadDecoder(JsonElement json, string at, List<DecoderStep> steps)
    {
        switch (TypeName(json, at))
        {
            case "Sequence":
                ReadSequence(json, at, "decoders", (step, stepAt) => ReadDecoder(step, stepAt, steps));
                break;
            case "Replace":
                var (pattern, content) = ReadReplace(json, at);
                steps.Add(new ReplaceDecoder(pattern, content));
                break;
            case "ByteFallback":
                steps.Add(new ByteFallbackDecoder());
                break;
            case "Fuse":
                steps.Add(new FuseDecoder());
                break;
            case "Strip":
                steps.Add(new StripDecoder(ReadChar(json, "content", at), ReadCount(json, "start", at), ReadCount(json, "stop", at)));
                break;
            case "Metaspace":
                steps.Add(new MetaspaceDecoder(ReadChar(json, "replacement", at), ReadPrependScheme(json, at)));
                break;
            case var other:
                throw new SharpLMException($"{at}: type {other} is not supported (a {Supported} decoder has Replace, ByteFallback, Fuse, " +
                                           "Strip and Metaspace steps only).");
        }
    }

    static void ReadSequence(JsonElement json, string at, string name, Action<JsonElement, string> readStep)
    {
        var list = Property(json, name) ?? throw IO.JsonFile.Missing($"{at}.{name}");
        Expect(list, JsonValueKind.Array, $"{at}.{name}");
        int i = 0;
        foreach (var step in list.EnumerateArray()) readStep(step, $"{at}.{name}[{i++}]");
    }

    static (string Pattern, string Content) ReadReplace(JsonElement json, string at)
    {
        if (Property(json, "pattern") is not { ValueKind: JsonValueKind.Object } pattern
            || OptionalString(pattern, "String", $"{at}.pattern.String") is not { Length: > 0 } text)
            throw new SharpLMException($"{at}.pattern: only a non-empty {{\"String\": \"...\"}} pattern is supported (not Regex).");
        return (text, OptionalString(json, "content", $"{at}.content") ?? throw IO.JsonFile.Missing($"{at}.content"));
    }

    // Hugging Face's current form has prepend_scheme; older files have add_prefix_space, false meaning never.
    static PrependScheme ReadPrependScheme(JsonElement json, string at)
    {
        var scheme = OptionalString(json, "prepend_scheme", $"{at}.prepend_scheme") switch
        {
            null => (PrependScheme?)null,
            "always" => PrependScheme.Always,
            "first" => PrependScheme.First,
            "never" => PrependScheme.Never,
            var other => throw new SharpLMException($"{at}.prepend_scheme: \"{other}\" is not one of always, first, never."),
        };
        if (Property(json, "add_prefix_space") is { } legacy && !ReadBool(legacy, $"{at}.add_prefix_space"))
        {
            if (scheme is not (null or PrependScheme.Never))
                throw new SharpLMException($"{at}.add_prefix_space: false contradicts prepend_scheme \"{scheme.ToString()!.ToLowerInvariant()}\".");
            return PrependScheme.Never;
        }
        return scheme ?? PrependScheme.Always;
    }

    static char ReadChar(JsonElement json, string name, string at)
    {
        string text = OptionalString(json, name, $"{at}.{name}") ?? throw IO.JsonFile.Missing($"{at}.{name}");
        if (text.Length != 1 || char.IsSurrogate(text[0]))
            throw IO.JsonFile.Wrong(json.GetProperty(name), $"{at}.{name}", "one character (of the Basic Multilingual Plane)");
        return text[0];
    }

    static int ReadCount(JsonElement json, string name, string at)
    {
        var v = Property(json, name) ?? throw IO.JsonFile.Missing($"{at}.{name}");
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0)
            throw IO.JsonFile.Wrong(v, $"{at}.{name}", "a non-negative integer");
        return n;
    }

    static void WriteSequence<T>(Utf8JsonWriter w, string name, IEnumerable<T> steps, Action<Utf8JsonWriter, T> write)
    {
        w.WriteStartObject();
        w.WriteString("type", "Sequence");
        w.WriteStartArray(name);
        foreach (var step in steps) write(w, step);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    static void WriteNormalizer(Utf8JsonWriter w, NormalizerStep step)
    {
        switch (step)
        {
            case PrependNormalizer p:
                w.WriteStartObject();
                w.WriteString("type", "Prepend");
                w.WriteString("prepend", p.Prefix);
                w.WriteEndObject();
                break;
            case ReplaceNormalizer r:
                WriteReplace(w, r.Pattern, r.Content);
                break;
            default:
                throw new UnreachableException();
        }
    }

    static void WriteDecoder(Utf8JsonWriter w, DecoderStep step)
    {
        switch (step)
        {
            case ReplaceDecoder r:
                WriteReplace(w, r.Pattern, r.Content);
                break;
            case ByteFallbackDecoder or FuseDecoder:
                w.WriteStartObject();
                w.WriteString("type", step is FuseDecoder ? "Fuse" : "ByteFallback");
                w.WriteEndObject();
                break;
            case StripDecoder s:
                w.WriteStartObject();
                w.WriteString("type", "Strip");
                w.WriteString("content", s.Content.ToString());
                w.WriteNumber("start", s.Start);
                w.WriteNumber("stop", s.Stop);
                w.WriteEndObject();
                break;
            case MetaspaceDecoder m:
                WriteMetaspace(w, m.Replacement, m.Scheme, split: true);
                break;
            default:
                throw new UnreachableException();
        }
    }

    static void WriteReplace(Utf8JsonWriter w, string pattern, string content)
    {
        w.WriteStartObject();
        w.WriteString("type", "Replace");
        w.WriteStartObject("pattern");
        w.WriteString("String", pattern);
        w.WriteEndObject();
        w.WriteString("content", content);
        w.WriteEndObject();
    }

    static void WriteMetaspace(Utf8JsonWriter w, char replacement, PrependScheme scheme, bool split)
    {
        w.WriteStartObject();
        w.WriteString("type", "Metaspace");
        w.WriteString("replacement", replacement.ToString());
        w.WriteString("prepend_scheme", scheme.ToString().ToLowerInvariant());
        w.WriteBoolean("split", split);
        w.WriteEndObject();
    }
}
