using System.Text.Encodings.Web;
using System.Text.Json;

namespace SharpLM.Tokenization;

/// <summary>
/// Reads and writes Hugging Face tokenizer.json files for byte-level BPE.
/// </summary>
/// <remarks>
/// Read: model type BPE (merges as ["a","b"] or "a b"; ignore_merges honoured) with a ByteLevel
/// pre-tokenizer (use_regex true, add_prefix_space false), or a Sequence of Split(Regex, Isolated)
/// and ByteLevel(use_regex false) as in Llama-3 files, either optionally preceded by
/// Digits(individual_digits true) as in SmolLM files. Normalizers,
/// dropout, byte fallback, subword prefixes/suffixes and stripped added tokens are refused with
/// a <see cref="SharpLMException"/> naming the file and field. The post-processor is ignored
/// (SharpLM adds bos/eos itself), as are truncation and padding. SentencePiece-style files
/// (Llama-2, Mistral) are read by <see cref="SentencePieceBpeJson"/>; <see cref="TokenizerLoader"/>
/// tells the two kinds apart.
/// </remarks>
public static class TokenizerJson
{
    /// <summary>The file a model folder keeps its tokenizer in.</summary>
    public const string FileName = "tokenizer.json";

    const string ByteLevelType = "ByteLevel";

    /// <summary>Loads a tokenizer.json file.</summary>
    /// <exception cref="SharpLMException">The file is missing, not JSON, or not a supported tokenizer.</exception>
    public static ByteLevelBpeTokenizer Load(string path)
    {
        return Parse(IO.InputFile.ReadAllBytes(path, "tokenizer", MaxFileBytes), path);
    }

    /// <summary>Parses tokenizer.json content; <paramref name="source"/> names it in error messages.</summary>
    public static ByteLevelBpeTokenizer Parse(ReadOnlyMemory<byte> json, string source) => ParseDocument(json, source, root => Read(root, source));

    /// <summary>Parses JSON (with <see cref="IO.JsonFile"/>, comments allowed as Hugging Face's reader does) and
    /// reads it with <paramref name="read"/>; errors are prefixed with <paramref name="source"/>.</summary>
    internal static T ParseDocument<T>(ReadOnlyMemory<byte> json, string source, Func<JsonElement, T> read)
    {
        using var doc = IO.JsonFile.Parse(json, source, allowComments: true);
        try
        {
            return read(doc.RootElement);
        }
        catch (SharpLMException e)
        {
            throw new SharpLMException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>Largest tokenizer file read: real ones are up to tens of MB.</summary>
    internal const long MaxFileBytes = 1L << 30;

    /// <summary>Writes <paramref name="tokenizer"/> to <paramref name="path"/> atomically (a temporary
    /// file in the same folder, then a rename), creating the folder if needed.</summary>
    public static void Save(ByteLevelBpeTokenizer tokenizer, string path) => WriteAtomically(path, Serialize(tokenizer));

    /// <summary>Writes <paramref name="content"/> through a temporary file in the same folder and a rename.</summary>
    internal static void WriteAtomically(string path, byte[] content)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, content);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>The tokenizer.json bytes (UTF-8, indented); the same tokenizer always gives the same bytes.</summary>
    public static byte[] Serialize(ByteLevelBpeTokenizer tokenizer)
    {
        using var stream = new MemoryStream();
        // Relaxed escaping writes byte-level tokens such as "Ġthe" as they are, like Hugging Face.
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
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", t.Special);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (tokenizer.NormalizeNfc)
            {
                w.WriteStartObject("normalizer");
                w.WriteString("type", "NFC");
                w.WriteEndObject();
            }
            else w.WriteNull("normalizer");
            w.WritePropertyName("pre_tokenizer");
            WritePreTokenizer(w, tokenizer.PreTokenizer);
            w.WriteNull("post_processor");
            w.WritePropertyName("decoder");
            WriteByteLevel(w, useRegex: true);
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            if (tokenizer.UnkToken is null) w.WriteNull("unk_token");
            else w.WriteString("unk_token", tokenizer.UnkToken);
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", tokenizer.IgnoreMerges);
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

    static void WritePreTokenizer(Utf8JsonWriter w, PreTokenizer pre)
    {
        if (pre.HasGpt2Pattern && !pre.IndividualDigits)
        {
            WriteByteLevel(w, useRegex: true);
            return;
        }
        w.WriteStartObject();
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        if (pre.IndividualDigits)
        {
            w.WriteStartObject();
            w.WriteString("type", "Digits");
            w.WriteBoolean("individual_digits", true);
            w.WriteEndObject();
        }
        if (!pre.HasGpt2Pattern)
        {
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", pre.Pattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
        }
        WriteByteLevel(w, useRegex: pre.HasGpt2Pattern);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    static void WriteByteLevel(Utf8JsonWriter w, bool useRegex)
    {
        w.WriteStartObject();
        w.WriteString("type", ByteLevelType);
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", useRegex);
        w.WriteEndObject();
    }

    internal static ByteLevelBpeTokenizer Read(JsonElement root, string source)
    {
        Expect(root, JsonValueKind.Object, null);
        bool nfc = false;
        if (Property(root, "normalizer") is { } normalizer)
        {
            nfc = TypeName(normalizer, "normalizer") == "NFC";
            if (!nfc) throw new SharpLMException($"normalizer: type {TypeName(normalizer, "normalizer")} is not supported " +
                                                 "(byte-level BPE takes none or NFC).");
        }
        var preTokenizer = ReadPreTokenizer(Property(root, "pre_tokenizer"), source);
        if (Property(root, "decoder") is { } decoder && TypeName(decoder, "decoder") != ByteLevelType)
            throw new SharpLMException($"decoder: type {TypeName(decoder, "decoder")} is not supported (expected ByteLevel).");

        var model = Property(root, "model") ?? throw IO.JsonFile.Missing("model");
        Expect(model, JsonValueKind.Object, "model");
        string type = OptionalString(model, "type", "model.type") ?? "BPE";
        if (type != "BPE") throw new SharpLMException($"model.type: \"{type}\" is not supported (expected BPE).");
        if (Property(model, "dropout") is { } dropout && (dropout.ValueKind != JsonValueKind.Number || dropout.GetDouble() != 0))
            throw new SharpLMException("model.dropout: BPE dropout is not supported (expected null).");
        foreach (var name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (OptionalString(model, name, $"model.{name}") is { Length: > 0 } affix)
                throw new SharpLMException($"model.{name}: \"{affix}\" is not supported (expected null).");
        foreach (var name in new[] { "fuse_unk", "byte_fallback" })
            if (OptionalBool(model, name, $"model.{name}"))
                throw new SharpLMException($"model.{name}: true is not supported (expected false).");
        bool ignoreMerges = OptionalBool(model, "ignore_merges", "model.ignore_merges");
        string? unk = OptionalString(model, "unk_token", "model.unk_token");

        var vocab = ReadVocab(model);
        var merges = ReadMerges(model);
        var added = ReadAddedTokens(root, readNormalized: false);
        CheckAddedTokenIds(added, vocab);
        return new ByteLevelBpeTokenizer(vocab, merges, added, preTokenizer, ignoreMerges, unk, nfc);
    }

    internal static Dictionary<string, int> ReadVocab(JsonElement model)
    {
        var vocabJson = Property(model, "vocab") ?? throw IO.JsonFile.Missing("model.vocab");
        Expect(vocabJson, JsonValueKind.Object, "model.vocab");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocabJson.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
                throw IO.JsonFile.Wrong(entry.Value, $"model.vocab[\"{entry.Name}\"]", "an integer id");
            if (!vocab.TryAdd(entry.Name, id)) throw new SharpLMException($"model.vocab: token \"{entry.Name}\" appears twice.");
        }
        return vocab;
    }

    internal static List<(string, string)> ReadMerges(JsonElement model)
    {
        var mergesJson = Property(model, "merges") ?? throw IO.JsonFile.Missing("model.merges");
        Expect(mergesJson, JsonValueKind.Array, "model.merges");
        var merges = new List<(string, string)>(mergesJson.GetArrayLength());
        foreach (var m in mergesJson.EnumerateArray()) merges.Add(ReadMerge(m, merges.Count));
        return merges;
    }

    /// <summary>The added_tokens; their "normalized" flag is kept only when <paramref name="readNormalized"/>.</summary>
    internal static List<AddedToken> ReadAddedTokens(JsonElement root, bool readNormalized)
    {
        var added = new List<AddedToken>();
        if (Property(root, "added_tokens") is { } addedJson)
        {
            Expect(addedJson, JsonValueKind.Array, "added_tokens");
            foreach (var t in addedJson.EnumerateArray())
            {
                string at = $"added_tokens[{added.Count}]";
                var token = ReadAddedToken(t, at);
                added.Add(readNormalized ? token with { Normalized = OptionalBool(t, "normalized", $"{at}.normalized") } : token);
            }
        }
        return added;
    }

    static PreTokenizer ReadPreTokenizer(JsonElement? json, string source)
    {
        const string field = "pre_tokenizer";
        const string supported = "expected ByteLevel, or a Sequence of an optional Digits then ByteLevel or Split and ByteLevel";
        if (json is not { } p) throw new SharpLMException($"{IO.JsonFile.Missing(field).Message} ({supported})");
        string type = TypeName(p, field);
        if (type == ByteLevelType)
        {
            CheckByteLevel(p, field, useRegex: true);
            return PreTokenizer.Gpt2;
        }
        if (type != "Sequence") throw new SharpLMException($"{field}: type {type} is not supported ({supported}).");
        var stepsJson = Property(p, "pretokenizers") ?? throw IO.JsonFile.Missing($"{field}.pretokenizers");
        Expect(stepsJson, JsonValueKind.Array, $"{field}.pretokenizers");
        var steps = stepsJson.EnumerateArray().Select((step, i) => (Json: step, At: $"{field}.pretokenizers[{i}]")).ToList();
        var types = steps.Select(step => TypeName(step.Json, step.At)).ToList();

        bool digits = types is ["Digits", ..];
        if (digits)
        {
            var (digitsJson, at) = steps[0];
            if (!OptionalBool(digitsJson, "individual_digits", $"{at}.individual_digits"))
                throw new SharpLMException($"{at}.individual_digits: only true is supported.");
            steps.RemoveAt(0);
            types.RemoveAt(0);
        }
        if (types is [ByteLevelType])
        {
            CheckByteLevel(steps[0].Json, steps[0].At, useRegex: true);
            return digits ? new PreTokenizer(PreTokenizer.Gpt2Pattern, individualDigits: true) : PreTokenizer.Gpt2;
        }
        if (types is not ["Split", ByteLevelType])
            throw new SharpLMException($"{field}.pretokenizers: [{string.Join(", ", types)}] is not supported ({supported}).");

        var (split, splitAt) = steps[0];
        var patternJson = Property(split, "pattern") ?? throw IO.JsonFile.Missing($"{splitAt}.pattern");
        string pattern = patternJson.ValueKind == JsonValueKind.Object
                         && OptionalString(patternJson, "Regex", $"{splitAt}.pattern.Regex") is { } regex
            ? regex
            : throw IO.JsonFile.Wrong(patternJson, $"{splitAt}.pattern", "{\"Regex\": \"...\"}");
        if (OptionalString(split, "behavior", $"{splitAt}.behavior") is var behavior and not "Isolated")
            throw new SharpLMException($"{splitAt}.behavior: \"{behavior}\" is not supported (expected Isolated).");
        if (OptionalBool(split, "invert", $"{splitAt}.invert")) throw new SharpLMException($"{splitAt}.invert: true is not supported.");
        CheckByteLevel(steps[1].Json, steps[1].At, useRegex: false);
        try
        {
            return new PreTokenizer(pattern, digits, $"{source}: {splitAt}.pattern.Regex");
        }
        catch (ArgumentException e)
        {
            throw new SharpLMException($"{splitAt}.pattern.Regex: .NET cannot compile this pattern ({e.Message}).", e);
        }
    }

    static void CheckByteLevel(JsonElement p, string field, bool useRegex)
    {
        if (OptionalBool(p, "add_prefix_space", $"{field}.add_prefix_space"))
            throw new SharpLMException($"{field}.add_prefix_space: true is not supported (expected false).");
        // use_regex defaults to true in Hugging Face (older GPT-2 files omit it).
        bool actual = Property(p, "use_regex") is not { } flag || ReadBool(flag, $"{field}.use_regex");
        if (actual != useRegex)
            throw new SharpLMException($"{field}.use_regex: expected {(useRegex ? "true" : "false")} here.");
    }

    // Hugging Face does not take an added token's id from the file: a token in model.vocab keeps its
    // vocab id, any other gets the next id after model.vocab and the added tokens before it.
    // Refuse files where that differs from the stated id rather than silently renumber.
    internal static void CheckAddedTokenIds(List<AddedToken> added, Dictionary<string, int> vocab)
    {
        int maxId = -1;
        for (int i = 0; i < added.Count; i++)
        {
            int expected = vocab.TryGetValue(added[i].Content, out int id) ? id : Math.Max(vocab.Count, maxId + 1);
            if (added[i].Id != expected)
                throw new SharpLMException($"added_tokens[{i}]: \"{added[i].Content}\" has id {added[i].Id}, " +
                    $"but Hugging Face would give it id {expected} " +
                    "(a token outside model.vocab takes the next id after the vocabulary and the added tokens before it).");
            maxId = Math.Max(maxId, expected);
        }
    }

    static (string, string) ReadMerge(JsonElement m, int index)
    {
        string at = $"model.merges[{index}]";
        if (m.ValueKind == JsonValueKind.String)
        {
            var parts = m.GetString()!.Split(' ');
            if (parts.Length != 2) throw new SharpLMException($"{at}: expected \"left right\" with one space, got \"{m.GetString()}\".");
            return (parts[0], parts[1]);
        }
        if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
            && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
            return (m[0].GetString()!, m[1].GetString()!);
        throw IO.JsonFile.Wrong(m, at, "[\"left\", \"right\"] or \"left right\"");
    }

    static AddedToken ReadAddedToken(JsonElement t, string at)
    {
        Expect(t, JsonValueKind.Object, at);
        var idJson = Property(t, "id") ?? throw IO.JsonFile.Missing($"{at}.id");
        if (idJson.ValueKind != JsonValueKind.Number || !idJson.TryGetInt32(out int id)) throw IO.JsonFile.Wrong(idJson, $"{at}.id", "an integer id");
        string content = OptionalString(t, "content", $"{at}.content") ?? throw IO.JsonFile.Missing($"{at}.content");
        foreach (var flag in new[] { "single_word", "lstrip", "rstrip" })
            if (OptionalBool(t, flag, $"{at}.{flag}"))
                throw new SharpLMException($"{at}.{flag}: true is not supported (token \"{content}\").");
        return new AddedToken(id, content, OptionalBool(t, "special", $"{at}.special"));
    }

    // A property that is present and not null.
    internal static JsonElement? Property(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    internal static string TypeName(JsonElement obj, string field)
    {
        Expect(obj, JsonValueKind.Object, field);
        return OptionalString(obj, "type", $"{field}.type") ?? throw IO.JsonFile.Missing($"{field}.type");
    }

    internal static string? OptionalString(JsonElement obj, string name, string field) => Property(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } s => s.GetString(),
        { } other => throw IO.JsonFile.Wrong(other, field, "a string"),
    };

    internal static bool OptionalBool(JsonElement obj, string name, string field) => Property(obj, name) is { } v && ReadBool(v, field);

    internal static bool ReadBool(JsonElement v, string field) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw IO.JsonFile.Wrong(v, field, "true or false"),
    };

    /// <summary>Fails unless <paramref name="e"/> is an object or array (<paramref name="kind"/>); <paramref name="field"/>
    /// null is the top-level value.</summary>
    internal static void Expect(JsonElement e, JsonValueKind kind, string? field)
    {
        if (e.ValueKind != kind) throw IO.JsonFile.Wrong(e, field, kind == JsonValueKind.Array ? "a JSON array" : "a JSON object");
    }
}
