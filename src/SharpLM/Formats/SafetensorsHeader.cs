using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using System.Text.Encodings.Web;
using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Formats;

/// <summary>
/// The safetensors header: an 8-byte little-endian length N, then N bytes of JSON (padded with spaces)
/// mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} plus an optional
/// "__metadata__" object of strings. Tensor data follows, offsets counted from the end of the header.
/// </summary>
internal static class SafetensorsHeader
{
    public const string MetadataKey = "__metadata__";

    /// <summary>Same cap as the reference implementation: a larger header means a corrupt file.</summary>
    const long MaxHeaderBytes = 100_000_000;

    /// <summary>Real metadata is a few short strings (the format, a dtype); megabytes of it is not a model's.</summary>
    const long MaxMetadataBytes = 1 << 20;

    /// <summary>Reads and validates the header of an open file; returns entries in data order.</summary>
    public static (List<SafetensorsEntry> Entries, Dictionary<string, string> Metadata, long DataStart) Read(
        SafeFileHandle file, string path)
    {
        long fileLength = RandomAccess.GetLength(file);
        if (fileLength < 8)
            throw Corrupt(path, $"the file has {fileLength} bytes, fewer than the 8-byte header length");
        Span<byte> lengthBytes = stackalloc byte[8];
        RandomAccess.Read(file, lengthBytes, 0);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength < 2 || headerLength > MaxHeaderBytes || headerLength > (ulong)(fileLength - 8))
            throw Corrupt(path, $"header length {headerLength} does not fit the file size {fileLength} (truncated or not a safetensors file)");

        var json = new byte[headerLength];
        if (RandomAccess.Read(file, json, 8) != json.Length)
            throw Corrupt(path, "the file ended inside the header");
        if (json[0] != (byte)'{')
            throw Corrupt(path, "the header does not start with '{'");

        long dataStart = 8 + (long)headerLength;
        var (entries, metadata) = Parse(json, path);
        CheckLayout(entries, fileLength - dataStart, path);
        return (entries, metadata, dataStart);
    }

    static (List<SafetensorsEntry>, Dictionary<string, string>) Parse(byte[] json, string path)
    {
        var document = JsonFile.Parse(json, $"{path}: not a valid safetensors file: the header");
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Corrupt(path, "the header is not a JSON object");
            var entries = new List<SafetensorsEntry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw Corrupt(path, $"the header names \"{property.Name}\" twice");
                if (property.Name == MetadataKey)
                    ReadMetadata(property.Value, metadata, path);
                else
                    entries.Add(ReadEntry(property.Name, property.Value, path));
            }
            return (entries, metadata);
        }
    }

    static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Corrupt(path, $"\"{MetadataKey}\" must be an object of strings");
        long size = 0;
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Corrupt(path, $"\"{MetadataKey}\".\"{item.Name}\" must be a string, not {item.Value.ValueKind}");
            metadata[item.Name] = item.Value.GetString()!;
            size += item.Name.Length + metadata[item.Name].Length;
            if (size > MaxMetadataBytes)
                throw Corrupt(path, $"\"{MetadataKey}\" holds more than {MaxMetadataBytes:N0} characters, far more than any model's");
        }
    }

    static SafetensorsEntry ReadEntry(string name, JsonElement value, string path)
    {
        string where = $"tensor \"{name}\"";
        if (value.ValueKind != JsonValueKind.Object)
            throw Corrupt(path, $"{where}: expected an object with dtype, shape and data_offsets");

        if (!value.TryGetProperty("dtype", out var dtypeJson) || dtypeJson.ValueKind != JsonValueKind.String)
            throw Corrupt(path, $"{where}: \"dtype\" is missing or not a string");
        string dtypeName = dtypeJson.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
            throw Corrupt(path, $"{where}: unknown dtype \"{dtypeName}\"");

        long[] shape = ReadIntegers(value, "shape", where, path);
        long[] offsets = ReadIntegers(value, "data_offsets", where, path);
        if (offsets.Length != 2 || offsets[0] > offsets[1])
            throw Corrupt(path, $"{where}: \"data_offsets\" must be [begin, end] with begin <= end");

        var entry = new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (count, dim) => count * dim) * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            throw Corrupt(path, $"{where}: shape [{string.Join(", ", shape)}] is too large");
        }
        if (expected != entry.ByteLength)
            throw Corrupt(path, $"{where}: shape [{string.Join(", ", shape)}] of {dtype} needs {expected} bytes, " +
                                $"but data_offsets span {entry.ByteLength}");
        return entry;
    }

    static long[] ReadIntegers(JsonElement entry, string field, string where, string path)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
            throw Corrupt(path, $"{where}: \"{field}\" is missing or not an array");
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out values[i]) || values[i] < 0)
                throw Corrupt(path, $"{where}: \"{field}\" must hold non-negative integers");
            i++;
        }
        return values;
    }

    /// <summary>Sorts entries by offset and checks that they exactly tile the data section:
    /// inside the file, no overlaps, no gaps, nothing after the last tensor.</summary>
    static void CheckLayout(List<SafetensorsEntry> entries, long dataLength, string path)
    {
        entries.Sort((a, b) => a.DataBegin != b.DataBegin ? a.DataBegin.CompareTo(b.DataBegin) : a.DataEnd.CompareTo(b.DataEnd));
        long position = 0;
        SafetensorsEntry? previous = null;
        foreach (var entry in entries)
        {
            if (entry.DataEnd > dataLength)
                throw Corrupt(path, $"tensor \"{entry.Name}\" ends at data byte {entry.DataEnd}, but the data section has only {dataLength} bytes " +
                                    "(truncated file?)");
            if (entry.DataBegin < position)
                throw Corrupt(path, $"tensors \"{previous!.Name}\" and \"{entry.Name}\" overlap");
            if (entry.DataBegin > position)
                throw Corrupt(path, $"{entry.DataBegin - position} unused bytes before tensor \"{entry.Name}\"");
            position = entry.DataEnd;
            previous = entry;
        }
        if (position != dataLength)
            throw Corrupt(path, $"{dataLength - position} bytes after the last tensor that no tensor uses");
    }

    /// <summary>The header bytes for tensors laid out in the given order, padded with spaces so the data
    /// starts at a multiple of 8 bytes (the length prefix included).</summary>
    public static byte[] Build(IReadOnlyList<SafetensorsEntry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        using var json = new MemoryStream();
        // Relaxed escaping keeps names readable ("+" and non-ASCII stay as they are); the JSON stays valid.
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartObject(MetadataKey);
            foreach (var (key, value) in metadata) writer.WriteString(key, value);
            writer.WriteEndObject();
            foreach (var entry in entries)
            {
                writer.WriteStartObject(entry.Name);
                writer.WriteString("dtype", entry.DType.ToString());
                writer.WriteStartArray("shape");
                foreach (long dim in entry.Shape) writer.WriteNumberValue(dim);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(entry.DataBegin);
                writer.WriteNumberValue(entry.DataEnd);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        int padded = (int)((json.Length + 7) / 8 * 8);
        var header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.GetBuffer().AsSpan(0, (int)json.Length).CopyTo(header.AsSpan(8));
        header.AsSpan(8 + (int)json.Length).Fill((byte)' ');
        return header;
    }

    static SharpLMException Corrupt(string path, string problem) => new($"{path}: not a valid safetensors file: {problem}");
}
