using System.Text;
using SharpLM.IO;
using static TorchSharp.torch;

namespace SharpLM.Formats;

/// <summary>
/// Writes a GGUF version 3 file (little-endian): header, metadata key/values, tensor infos, then the tensor data,
/// each tensor starting at a multiple of <see cref="Alignment"/> bytes from the data section's start, which is
/// itself aligned. Tensors are converted and streamed one at a time, so the file is never built in memory.
/// </summary>
/// <remarks>GGUF lists dimensions innermost first (ggml's ne[0] is the row length), the reverse of torch's
/// shape: a torch [out, in] weight is written as [in, out].</remarks>
public sealed class GgufWriter
{
    public const uint Version = 3;

    /// <summary>Data alignment, written as <c>general.alignment</c> (32 is also the default readers assume).</summary>
    public const uint Alignment = 32;

    // ggml keeps tensor names in a 64-byte buffer that includes the terminating zero.
    const int MaxTensorNameBytes = 63;

    readonly List<(string Key, GgufValueType Type, Action<BinaryWriter> Write)> metadata = [];
    readonly List<(string Name, Tensor Tensor, GgufTensorType Type)> tensors = [];
    readonly HashSet<string> keys = new(StringComparer.Ordinal), names = new(StringComparer.Ordinal);

    public GgufWriter() => Add("general.alignment", Alignment);

    public void Add(string key, string value) => AddValue(key, GgufValueType.String, w => WriteString(w, value));
    public void Add(string key, uint value) => AddValue(key, GgufValueType.UInt32, w => w.Write(value));
    public void Add(string key, int value) => AddValue(key, GgufValueType.Int32, w => w.Write(value));
    public void Add(string key, float value) => AddValue(key, GgufValueType.Float32, w => w.Write(value));
    public void Add(string key, bool value) => AddValue(key, GgufValueType.Bool, w => w.Write(value));

    public void Add(string key, IReadOnlyList<string> values) => AddArray(key, GgufValueType.String, values, WriteString);
    public void Add(string key, IReadOnlyList<int> values) => AddArray(key, GgufValueType.Int32, values, (w, v) => w.Write(v));
    public void Add(string key, IReadOnlyList<float> values) => AddArray(key, GgufValueType.Float32, values, (w, v) => w.Write(v));

    /// <summary>Adds a tensor, stored as <paramref name="type"/> when the file is written (the tensor is read then).</summary>
    public void AddTensor(string name, Tensor tensor, GgufTensorType type)
    {
        if (Encoding.UTF8.GetByteCount(name) is 0 or > MaxTensorNameBytes)
            throw new ArgumentException($"GGUF tensor name \"{name}\" must be 1 to {MaxTensorNameBytes} bytes");
        if (tensor.dim() is 0 or > 4) throw new ArgumentException($"GGUF tensor \"{name}\" has {tensor.dim()} dimensions; 1 to 4 are allowed");
        if (tensor.shape[^1] % type.BlockSize() != 0)
            throw new ArgumentException($"GGUF tensor \"{name}\": rows of {tensor.shape[^1]} values cannot be stored as {type} " +
                                        $"(blocks of {type.BlockSize()})");
        if (!names.Add(name)) throw new ArgumentException($"GGUF tensor \"{name}\" added twice");
        tensors.Add((name, tensor, type));
    }

    /// <summary>Writes the file atomically (see <see cref="AtomicFile"/>).</summary>
    public void Write(string path) => AtomicFile.Write(path, stream =>
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write("GGUF"u8);
        w.Write(Version);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, type, write) in metadata)
        {
            WriteString(w, key);
            w.Write((uint)type);
            write(w);
        }

        ulong offset = 0;
        foreach (var (name, tensor, type) in tensors)
        {
            WriteString(w, name);
            w.Write((uint)tensor.dim());
            for (int d = (int)tensor.dim() - 1; d >= 0; d--) w.Write((ulong)tensor.shape[d]);
            w.Write((uint)type);
            w.Write(offset);
            offset = Align(offset + (ulong)type.ByteCount(tensor.numel()));
        }
        w.Flush();
        Pad(stream);

        foreach (var (_, tensor, type) in tensors)
        {
            switch (type)
            {
                case GgufTensorType.Q8_0: GgufQ8_0.Write(stream, tensor); break;
                case GgufTensorType.F16: TensorBytes.Write(stream, tensor, ScalarType.Float16); break;
                default: TensorBytes.Write(stream, tensor, ScalarType.Float32); break;
            }
            Pad(stream);
        }
    });

    void AddValue(string key, GgufValueType type, Action<BinaryWriter> write)
    {
        if (!keys.Add(key)) throw new ArgumentException($"GGUF metadata key \"{key}\" added twice");
        metadata.Add((key, type, write));
    }

    void AddArray<T>(string key, GgufValueType elementType, IReadOnlyList<T> values, Action<BinaryWriter, T> writeElement)
    {
        var copy = values.ToArray(); // the caller may change its list before the file is written
        AddValue(key, GgufValueType.Array, w =>
        {
            w.Write((uint)elementType);
            w.Write((ulong)copy.Length);
            foreach (var v in copy) writeElement(w, v);
        });
    }

    static void WriteString(BinaryWriter w, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static ulong Align(ulong offset) => (offset + Alignment - 1) / Alignment * Alignment;

    static void Pad(Stream stream)
    {
        long padding = (long)Align((ulong)stream.Position) - stream.Position;
        if (padding > 0) stream.Write(new byte[padding]);
    }
}
