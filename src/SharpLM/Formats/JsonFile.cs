using System.Text.Json;
using SharpLM.Data;

namespace SharpLM.Formats;

/// <summary>
/// The one way SharpLM reads JSON it did not write itself (config.json, tokenizer.json, adapter_config.json, JSONL
/// lines, safetensors headers...). Beyond syntax it refuses what System.Text.Json would accept and fail on later with
/// an exception that names nothing: invalid UTF-8, a UTF-16 file, a string escape that is an unpaired surrogate
/// (<c>"\ud800"</c>), and numbers too large for a double (<c>1e400</c>). Every failure is a
/// <see cref="SharpLMException"/> that names the source and, where there is one, the field.
/// </summary>
public static class JsonFile
{
    /// <summary>Far above any real config; a larger "config" is a mistake or an attack, not something to read into memory.</summary>
    public const long MaxConfigBytes = 64L << 20;

    /// <summary>Reads, checks and parses the JSON file at <paramref name="path"/> (see <see cref="Parse"/>).</summary>
    /// <param name="what">what the file is, for messages ("config.json", "tokenizer")</param>
    public static JsonDocument Read(string path, string what, long maxBytes = MaxConfigBytes, bool allowComments = false) =>
        Parse(ReadBytes(path, what, maxBytes), path, allowComments);

    /// <summary>The file's bytes (a regular file of at most <paramref name="maxBytes"/>), checked as by <see cref="Parse"/>
    /// and without a UTF-8 byte-order mark, for callers that parse them another way (JsonNode, the serializer).</summary>
    public static byte[] ReadBytes(string path, string what, long maxBytes = MaxConfigBytes, bool allowComments = false)
    {
        var bytes = InputFile.ReadAllBytes(path, what, maxBytes);
        var json = WithoutBom(bytes, path);
        Check(json.Span, path, allowComments);
        return json.Length == bytes.Length ? bytes : json.ToArray();
    }

    /// <summary>Checks and parses JSON text; <paramref name="source"/> (a path, or <c>path:line</c>) names it in messages.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> json, string source, bool allowComments = false)
    {
        json = WithoutBom(json, source);
        Check(json.Span, source, allowComments);
        // Check has seen the whole text, so parsing cannot fail.
        return JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = CommentHandling(allowComments) });
    }

    /// <summary>Checks JSON text as <see cref="Parse"/> does, for callers that parse it themselves; returns it without
    /// a UTF-8 byte-order mark.</summary>
    public static ReadOnlySpan<byte> Checked(ReadOnlySpan<byte> json, string source, bool allowComments = false)
    {
        RefuseUtf16(json, source);
        if (json.StartsWith(StrictUtf8.Bom)) json = json[StrictUtf8.Bom.Length..];
        Check(json, source, allowComments);
        return json;
    }

    static ReadOnlyMemory<byte> WithoutBom(ReadOnlyMemory<byte> json, string source)
    {
        RefuseUtf16(json.Span, source);
        return json.Span.StartsWith(StrictUtf8.Bom) ? json[StrictUtf8.Bom.Length..] : json;
    }

    // Refused rather than decoded: Hugging Face's readers take UTF-8 only, so such a file works nowhere else either.
    static void RefuseUtf16(ReadOnlySpan<byte> json, string source)
    {
        if (StrictUtf8.StartsWithUtf16Bom(json))
            throw new SharpLMException($"{source}: the file is UTF-16 (it starts with a UTF-16 byte-order mark); JSON files must be UTF-8, re-save it as UTF-8");
    }

    static JsonCommentHandling CommentHandling(bool allowComments) => allowComments ? JsonCommentHandling.Skip : JsonCommentHandling.Disallow;

    /// <summary>One pass over the text: strict UTF-8, syntax, and every string and number usable as a value.</summary>
    static void Check(ReadOnlySpan<byte> json, string source, bool allowComments)
    {
        int invalidAt = StrictUtf8.FirstInvalid(json);
        if (invalidAt >= 0)
            throw new SharpLMException($"{source}: invalid UTF-8 at byte offset {invalidAt} (byte 0x{json[invalidAt]:X2}); JSON must be UTF-8");
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = CommentHandling(allowComments) });
        var path = new FieldPath();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        path.Property(Text(ref reader, source, path));
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        path.Enter(reader.TokenType == JsonTokenType.StartArray);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        path.Leave();
                        break;
                    case JsonTokenType.String:
                        Text(ref reader, source, path);
                        break;
                    case JsonTokenType.Number when !reader.TryGetDouble(out double number) || !double.IsFinite(number):
                        throw new SharpLMException($"{source}: {path.Describe()} is the number {System.Text.Encoding.UTF8.GetString(reader.ValueSpan)}, " +
                                                   "which is out of range (larger than a double can hold)");
                }
            }
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{source}: malformed JSON: {e.Message}", e);
        }
    }

    /// <summary>Decodes an escaped string, which is where an unpaired surrogate (<c>\ud800</c>) hides; plain ones are valid UTF-8 already.</summary>
    static string? Text(ref Utf8JsonReader reader, string source, FieldPath path)
    {
        if (!reader.ValueIsEscaped) return reader.TokenType == JsonTokenType.PropertyName ? reader.GetString() : null;
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            string which = reader.TokenType == JsonTokenType.PropertyName ? $"a field name in {path.Describe()}" : path.Describe();
            throw new SharpLMException($"{source}: {which} holds an unpaired UTF-16 surrogate escape (such as \\ud800), which is not valid text");
        }
    }

    /// <summary>Where the reader is, as <c>field "model.vocab"</c> or <c>field "messages[].content"</c>, for messages.</summary>
    sealed class FieldPath
    {
        readonly List<(string Name, bool IsArray)> containers = [];
        string? property;

        public void Property(string? name) => property = name;

        public void Enter(bool isArray)
        {
            string name = containers.Count == 0 ? "" : property ?? (containers[^1].IsArray ? "[]" : "");
            containers.Add((name, isArray));
            property = null;
        }

        public void Leave()
        {
            containers.RemoveAt(containers.Count - 1);
            property = null;
        }

        public string Describe()
        {
            var parts = containers.Skip(1).Select(c => c.Name).Append(property ?? (containers.Count > 0 && containers[^1].IsArray ? "[]" : null));
            string joined = string.Join(".", parts.Where(p => !string.IsNullOrEmpty(p))).Replace(".[]", "[]");
            return joined.Length == 0 ? "the top-level value" : $"field \"{joined}\"";
        }
    }

    // Typed fields of a JSON object, failing with the source and field named instead of System.Text.Json's exceptions.

    /// <summary>The object at the top of a document; anything else fails naming <paramref name="source"/>.</summary>
    public static JsonElement RequireObject(JsonElement root, string source, string expected = "a JSON object")
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new SharpLMException($"{source}: expected {expected}, got {JsonlReader.Describe(root.ValueKind)}");
        return root;
    }

    /// <summary>A string field; null when missing or null.</summary>
    public static string? OptionalString(JsonElement obj, string field, string source) =>
        Field(obj, field) is { } value ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw Wrong(value, field, "a string", source) : null;

    /// <summary>A boolean field; null when missing or null.</summary>
    public static bool? OptionalBool(JsonElement obj, string field, string source) =>
        Field(obj, field) is { } value
            ? value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw Wrong(value, field, "true or false", source)
            : null;

    /// <summary>An integer field that fits an int; null when missing or null.</summary>
    public static int? OptionalInt(JsonElement obj, string field, string source) =>
        Field(obj, field) is { } value
            ? value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n) ? n
              : throw Wrong(value, field, $"an integer between {int.MinValue} and {int.MaxValue}", source)
            : null;

    /// <summary>A finite number field; null when missing or null.</summary>
    public static double? OptionalDouble(JsonElement obj, string field, string source) =>
        Field(obj, field) is { } value
            ? value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && double.IsFinite(d) ? d : throw Wrong(value, field, "a number", source)
            : null;

    static JsonElement? Field(JsonElement obj, string field) =>
        obj.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    static SharpLMException Wrong(JsonElement value, string field, string expected, string source) =>
        new($"{source}: field \"{field}\" is {(value.ValueKind == JsonValueKind.Number ? $"the number {value.GetRawText()}" : JsonlReader.Describe(value.ValueKind))}, expected {expected}");
}
