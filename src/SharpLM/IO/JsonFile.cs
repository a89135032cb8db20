using System.Collections;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace SharpLM.IO;

/// <summary>
/// The one way SharpLM reads JSON it did not write itself (config.json, tokenizer.json, adapter_config.json, JSONL
/// lines, safetensors headers...) or wrote in an earlier run (trainer_state.json). Beyond syntax it
/// refuses what System.Text.Json would accept and fail on later with an exception that names nothing: invalid UTF-8,
/// a UTF-16 file, a string escape that is an unpaired surrogate (<c>"\ud800"</c>), and numbers too large for a double
/// (<c>1e400</c>).
/// </summary>
/// <remarks>Every failure is a <see cref="SharpLMException"/> in one style: the source (the file, or <c>path:line</c>
/// of a JSONL line), the field and what it is, what was expected, and where System.Text.Json gives it the line and
/// position: <c>config.json: field "vocab_size" is a string, expected an integer between -2147483648 and 2147483647
/// (line 3, position 20)</c>.</remarks>
public static class JsonFile
{
    /// <summary>Far above any real config; a larger "config" is a mistake or an attack, not something to read into memory.</summary>
    public const long MaxConfigBytes = 64L << 20;

    /// <summary>Reads, checks and parses the JSON file at <paramref name="path"/> (see <see cref="Parse"/>).</summary>
    /// <param name="what">what the file is, for messages ("config.json", "tokenizer")</param>
    public static JsonDocument Read(string path, string what, long maxBytes = MaxConfigBytes, bool allowComments = false) =>
        Parse(ReadBytes(path, what, maxBytes), path, allowComments);

    /// <summary>Reads and checks the JSON object in the file at <paramref name="path"/> and binds it to
    /// <typeparamref name="T"/> (see <see cref="Deserialize{T}(ReadOnlyMemory{byte}, string, JsonSerializerOptions)"/>).</summary>
    public static T Read<T>(string path, string what, JsonSerializerOptions options) => Deserialize<T>(ReadBytes(path, what), path, options, out _);

    /// <summary>As <see cref="Read{T}(string, string, JsonSerializerOptions)"/>, also giving the names of the object's fields.</summary>
    public static T Read<T>(string path, string what, JsonSerializerOptions options, out IReadOnlySet<string> fields) =>
        Deserialize<T>(ReadBytes(path, what), path, options, out fields);

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

    /// <summary>Checks JSON text that must hold an object and binds it to <typeparamref name="T"/> with
    /// <paramref name="options"/>. A value the type cannot hold, or a <see cref="JsonRequiredAttribute"/> field left
    /// out, fails naming the field, what it is, what was expected and where.</summary>
    public static T Deserialize<T>(ReadOnlyMemory<byte> json, string source, JsonSerializerOptions options) =>
        Deserialize<T>(json, source, options, out _);

    /// <summary>As <see cref="Deserialize{T}(ReadOnlyMemory{byte}, string, JsonSerializerOptions)"/>, also giving the
    /// names of the object's fields (to tell a field left out from one set to its default).</summary>
    public static T Deserialize<T>(ReadOnlyMemory<byte> json, string source, JsonSerializerOptions options, out IReadOnlySet<string> fields)
    {
        json = WithoutBom(json, source);
        using var document = Parse(json, source);
        var root = RequireObject(document.RootElement, source);
        fields = root.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        // What the serializer does at its first use, done first: the type's metadata below needs the default resolver.
        if (!options.IsReadOnly) options.MakeReadOnly(populateMissingResolver: true);
        var type = options.GetTypeInfo(typeof(T));
        foreach (var property in type.Properties)
            if (property.IsRequired && !fields.Contains(property.Name)) throw Missing(property.Name, source);
        try
        {
            return JsonSerializer.Deserialize<T>(json.Span, options) ?? throw Wrong(root, null, "a JSON object", source);
        }
        catch (JsonException e)
        {
            throw NotBindable(e, root, type, options, source);
        }
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
            throw new SharpLMException($"{source}: the file is UTF-16 (it starts with a UTF-16 byte-order mark), expected UTF-8; " +
                                       "re-save it as UTF-8");
    }

    static JsonCommentHandling CommentHandling(bool allowComments) => allowComments ? JsonCommentHandling.Skip : JsonCommentHandling.Disallow;

    /// <summary>One pass over the text: strict UTF-8, syntax, and every string and number usable as a value.</summary>
    static void Check(ReadOnlySpan<byte> json, string source, bool allowComments)
    {
        int invalidAt = StrictUtf8.FirstInvalid(json);
        if (invalidAt >= 0)
            throw new SharpLMException($"{source}: invalid UTF-8 (byte 0x{json[invalidAt]:X2}), expected UTF-8 text{At(json, invalidAt)}");
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = CommentHandling(allowComments) });
        var path = new FieldPath();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        path.Property(Text(ref reader, json, source, path));
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        path.Enter(reader.TokenType == JsonTokenType.StartArray);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        path.Leave();
                        break;
                    case JsonTokenType.String:
                        Text(ref reader, json, source, path);
                        break;
                    case JsonTokenType.Number when !reader.TryGetDouble(out double number) || !double.IsFinite(number):
                        throw new SharpLMException($"{source}: {path.Describe()} is the number " +
                                                   $"{System.Text.Encoding.UTF8.GetString(reader.ValueSpan)}, " +
                                                   $"expected a number a double can hold (at most about 1.8e308){At(json, reader.TokenStartIndex)}");
                }
            }
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{source}: malformed JSON: {WithoutLocation(e.Message)}{At(e.LineNumber, e.BytePositionInLine)}", e);
        }
    }

    /// <summary>Decodes an escaped string, which is where an unpaired surrogate (<c>\ud800</c>) hides; plain ones are valid UTF-8 already.</summary>
    static string? Text(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, string source, FieldPath path)
    {
        if (!reader.ValueIsEscaped) return reader.TokenType == JsonTokenType.PropertyName ? reader.GetString() : null;
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            string which = reader.TokenType == JsonTokenType.PropertyName ? $"a field name in {path.Describe()}" : path.Describe();
            throw new SharpLMException($"{source}: {which} holds an unpaired UTF-16 surrogate escape (such as \\ud800), expected valid text" +
                                       At(json, reader.TokenStartIndex));
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
            return FieldName(string.Join(".", parts.Where(p => !string.IsNullOrEmpty(p))).Replace(".[]", "[]"));
        }
    }

    // Locations, as System.Text.Json gives them (0-based) or as found from a byte offset, written 1-based.

    static string At(long? line, long? bytePosition) => line is { } l ? $" (line {l + 1}, position {(bytePosition ?? 0) + 1})" : "";

    static string At(ReadOnlySpan<byte> json, long offset)
    {
        var before = json[..(int)offset];
        int lineStart = before.LastIndexOf((byte)'\n') + 1;
        return At(before.Count((byte)'\n'), offset - lineStart);
    }

    /// <summary>System.Text.Json's message without the location it appends (given in this class's own words instead).</summary>
    static string WithoutLocation(string message) =>
        Regex.Replace(message, @"\s*(Path: .*?\| )?LineNumber: \d+ \| BytePositionInLine: \d+\.$", "").TrimEnd('.');

    // Binding errors: the field from the exception's path, what is there from the document, what was expected from
    // the type bound to (or the converter's own "expected ..." message).

    static SharpLMException NotBindable(JsonException e, JsonElement root, JsonTypeInfo type, JsonSerializerOptions options, string source)
    {
        var segments = Segments(e.Path);
        string field = string.Concat(segments.Select((s, i) => s is int index ? $"[{index}]" : i == 0 ? $"{s}" : $".{s}"));
        string? expected = e.Message.StartsWith("expected ", StringComparison.Ordinal) ? e.Message["expected ".Length..].TrimEnd('.')
            : Target(type, segments, options) is { } target ? Expected(target, options) : null;
        string found = Navigate(root, segments) is { } value ? $" is {Describe(value)}" : "";
        string problem = expected is null ? $"{found}: {WithoutLocation(e.Message)}" : $"{found}, expected {expected}";
        return new SharpLMException($"{source}: {FieldName(field)}{problem}{At(e.LineNumber, e.BytePositionInLine)}", e);
    }

    /// <summary><c>$.options.lr</c>, <c>$.eos_token_id[1]</c>, <c>$['a.b']</c> as property names (strings) and indexes (ints).</summary>
    static List<object> Segments(string? path) =>
        path is null ? [] : Regex.Matches(path, @"\.([^.\[]+)|\['((?:[^']|'')*)'\]|\[(\d+)\]")
            .Select(m => m.Groups[3].Success ? (object)int.Parse(m.Groups[3].Value)
                : m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value.Replace("''", "'"))
            .ToList();

    static JsonElement? Navigate(JsonElement value, List<object> segments)
    {
        foreach (var segment in segments)
        {
            if (segment is string name && value.ValueKind == JsonValueKind.Object && value.TryGetProperty(name, out var child)) value = child;
            else if (segment is int index && value.ValueKind == JsonValueKind.Array && index < value.GetArrayLength()) value = value[index];
            else return null;
        }
        return value;
    }

    /// <summary>The type bound at the path, or null when it cannot be told (extension data, a custom converter).</summary>
    static Type? Target(JsonTypeInfo type, List<object> segments, JsonSerializerOptions options)
    {
        Type? target = type.Type;
        foreach (var segment in segments)
        {
            var info = options.GetTypeInfo(target!);
            target = (segment, info.Kind) switch
            {
                (string name, JsonTypeInfoKind.Object) =>
                    info.Properties.FirstOrDefault(p => p.Name == name) is { CustomConverter: null } p ? p.PropertyType : null,
                (string, JsonTypeInfoKind.Dictionary) or (int, JsonTypeInfoKind.Enumerable) => info.ElementType,
                _ => null,
            };
            if (target is null) return null;
        }
        return target;
    }

    static string? Expected(Type type, JsonSerializerOptions options)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string)) return "a string";
        if (type == typeof(bool)) return "true or false";
        if (type.IsEnum)
            return options.Converters.Any(c => c is JsonStringEnumConverter) ? $"one of {string.Join(", ", Enum.GetNames(type))}" : "an integer";
        if (type == typeof(int)) return $"an integer between {int.MinValue} and {int.MaxValue}";
        if (type == typeof(long)) return $"an integer between {long.MinValue} and {long.MaxValue}";
        if (type == typeof(uint) || type == typeof(ulong) || type == typeof(short) || type == typeof(ushort)
            || type == typeof(byte) || type == typeof(sbyte))
            return "an integer in the range of " + type.Name;
        if (type == typeof(float) || type == typeof(double) || type == typeof(decimal)) return "a number";
        if (type == typeof(object) || type == typeof(JsonElement) || typeof(System.Text.Json.Nodes.JsonNode).IsAssignableFrom(type)) return null;
        if (typeof(IDictionary).IsAssignableFrom(type)
            || type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)))
            return "an object";
        return typeof(IEnumerable).IsAssignableFrom(type) ? "a list" : "an object";
    }

    // Typed fields of a JSON object, failing with the source and field named instead of System.Text.Json's exceptions.

    /// <summary>The object at the top of a document; anything else fails naming <paramref name="source"/>.</summary>
    public static JsonElement RequireObject(JsonElement root, string source, string expected = "a JSON object") =>
        root.ValueKind == JsonValueKind.Object ? root : throw Wrong(root, null, expected, source);

    /// <summary>A string field; null when missing or null.</summary>
    public static string? OptionalString(JsonElement obj, string field, string source) =>
        Field(obj, field) is { } value
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw Wrong(value, field, "a string", source)
            : null;

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
            ? value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && double.IsFinite(d)
                ? d
                : throw Wrong(value, field, "a number", source)
            : null;

    static JsonElement? Field(JsonElement obj, string field) =>
        obj.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    /// <summary>The one message for a value of the wrong kind: <c>source: field "x" is a string, expected a number</c>.</summary>
    /// <param name="field">the field's path (<c>model.vocab</c>, <c>added_tokens[3].id</c>); null for the top-level value</param>
    /// <param name="source">the file; null where the caller adds it to the message (a reader of nested parts)</param>
    public static SharpLMException Wrong(JsonElement value, string? field, string expected, string? source = null) =>
        new($"{Prefix(source)}{FieldName(field)} is {Describe(value)}, expected {expected}");

    /// <summary>The one message for a required field left out: <c>source: field "x" is missing</c>.</summary>
    public static SharpLMException Missing(string field, string? source = null) => new($"{Prefix(source)}{FieldName(field)} is missing");

    /// <summary>A value as messages describe it: <c>the number 1e400</c>, <c>the string "many"</c> (its first 40
    /// characters, as written in the file), <c>an array</c>, <c>null</c>...</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.String when value.GetRawText() is var raw => $"the string {(raw.Length <= 42 ? raw : raw[..41] + "...\"")}",
        var kind => Describe(kind),
    };

    static string FieldName(string? field) => string.IsNullOrEmpty(field) ? "the top-level value" : $"field \"{field}\"";

    static string Prefix(string? source) => source is null ? "" : $"{source}: ";

    /// <summary>What a JSON value is, for messages ("a string", "null").</summary>
    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}
