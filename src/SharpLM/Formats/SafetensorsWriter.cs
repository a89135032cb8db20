using SharpLM.IO;
using static TorchSharp.torch;

namespace SharpLM.Formats;

/// <summary>Saves named tensors as a <c>.safetensors</c> file.</summary>
public static class SafetensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/>, atomically (see <see cref="AtomicFile"/>).
    /// Each tensor is converted to <paramref name="dtype"/> (null keeps its own type) and streamed chunk by
    /// chunk, so the file is never built in memory; tensors may live on any device and need not be contiguous.
    /// The header's <c>__metadata__</c> holds <c>"format": "pt"</c> plus <paramref name="metadata"/> (which
    /// may override it).
    /// </summary>
    /// <remarks>Tensors are stored in Hugging Face's order: larger element types first, then by name
    /// (ordinal). With one dtype per file that is simply name order; with mixed types it keeps every
    /// tensor aligned to its element size. The same weights always give the same bytes.</remarks>
    public static void Write(
        string path,
        IEnumerable<KeyValuePair<string, Tensor>> tensors,
        SafetensorsDType? dtype = null,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        AtomicFile.Write(path, Serializer(path, tensors, dtype, metadata));

    /// <summary>As <see cref="Write"/>, but leaves the file at its temporary name (returned) for the caller to move
    /// into place (see <see cref="AtomicFile.WriteTemporary"/>).</summary>
    internal static string WriteTemporary(
        string path,
        IEnumerable<KeyValuePair<string, Tensor>> tensors,
        SafetensorsDType? dtype = null,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        AtomicFile.WriteTemporary(path, Serializer(path, tensors, dtype, metadata));

    /// <summary>Checks and lays out the tensors now, before any file is touched; the returned action streams them.</summary>
    static Action<Stream> Serializer(
        string path,
        IEnumerable<KeyValuePair<string, Tensor>> tensors,
        SafetensorsDType? dtype,
        IReadOnlyDictionary<string, string>? metadata)
    {
        var (entries, sources) = Layout(tensors, dtype, path);

        var allMetadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>()) allMetadata[key] = value;
        byte[] header = SafetensorsHeader.Build(entries, allMetadata);

        return stream =>
        {
            stream.Write(header);
            for (int i = 0; i < entries.Count; i++)
                TensorBytes.Write(stream, sources[i], entries[i].DType.ToScalarType()!.Value);
        };
    }

    /// <summary>Header entries in storage order with contiguous offsets, and the tensors in that order;
    /// checks names and types before anything is written.</summary>
    static (List<SafetensorsEntry>, List<Tensor>) Layout(
        IEnumerable<KeyValuePair<string, Tensor>> tensors, SafetensorsDType? dtype, string path)
    {
        if (dtype is { } requested && requested.ToScalarType() is null)
            throw new SharpLMException($"Cannot write {path} as {requested}: TorchSharp has no such tensor type.");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var typed = new List<(string Name, Tensor Tensor, SafetensorsDType Type)>();
        foreach (var (name, tensor) in tensors)
        {
            if (string.IsNullOrEmpty(name) || name == SafetensorsHeader.MetadataKey)
                throw new SharpLMException($"Cannot write {path}: \"{name}\" is not a valid tensor name.");
            if (!names.Add(name))
                throw new SharpLMException($"Cannot write {path}: the tensor name \"{name}\" appears twice.");
            var type = dtype ?? (SafetensorsDTypes.TryFromScalarType(tensor.dtype, out var own) ? own
                : throw new SharpLMException($"Cannot write {path}: tensor \"{name}\" is {tensor.dtype}, which safetensors cannot store."));
            typed.Add((name, tensor, type));
        }
        typed.Sort((a, b) => a.Type.ElementSize() != b.Type.ElementSize()
            ? b.Type.ElementSize().CompareTo(a.Type.ElementSize())
            : string.CompareOrdinal(a.Name, b.Name));

        var entries = new List<SafetensorsEntry>(typed.Count);
        long offset = 0;
        foreach (var (name, tensor, type) in typed)
        {
            long bytes = tensor.numel() * type.ElementSize();
            entries.Add(new SafetensorsEntry(name, type, tensor.shape, offset, offset + bytes));
            offset += bytes;
        }
        return (entries, typed.Select(t => t.Tensor).ToList());
    }
}
