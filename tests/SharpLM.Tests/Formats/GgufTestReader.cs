using System.Text;
using SharpLM.Formats;

namespace SharpLM.Tests.Formats;

/// <summary>An independent minimal GGUF v3 reader for tests: metadata values as .NET objects, tensor infos, data.</summary>
sealed class GgufTestReader
{
    public record TensorInfo(string Name, ulong[] Dims, GgufTensorType Type, ulong Offset);

    public uint Version { get; }
    public Dictionary<string, object> Metadata { get; } = new();
    public List<string> Keys { get; } = [];
    public List<TensorInfo> Tensors { get; } = [];
    public long DataStart { get; }
    readonly byte[] file;

    public GgufTestReader(string path)
    {
        file = File.ReadAllBytes(path);
        using var r = new BinaryReader(new MemoryStream(file));
        if (Encoding.ASCII.GetString(r.ReadBytes(4)) != "GGUF") throw new InvalidDataException("bad magic");
        Version = r.ReadUInt32();
        ulong tensorCount = r.ReadUInt64(), kvCount = r.ReadUInt64();
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = ReadString(r);
            Keys.Add(key);
            Metadata[key] = ReadValue(r, (GgufValueType)r.ReadUInt32());
        }
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = ReadString(r);
            var dims = new ulong[r.ReadUInt32()];
            for (int d = 0; d < dims.Length; d++) dims[d] = r.ReadUInt64();
            Tensors.Add(new TensorInfo(name, dims, (GgufTensorType)r.ReadUInt32(), r.ReadUInt64()));
        }
        uint alignment = Metadata.TryGetValue("general.alignment", out var a) ? (uint)a : 32;
        DataStart = (r.BaseStream.Position + alignment - 1) / alignment * alignment;
    }

    public TensorInfo Tensor(string name) => Tensors.Single(t => t.Name == name);

    public ReadOnlySpan<byte> Data(string name)
    {
        var info = Tensor(name);
        long elements = info.Dims.Aggregate(1L, (p, d) => p * (long)d);
        return file.AsSpan((int)(DataStart + (long)info.Offset), (int)info.Type.ByteCount(elements));
    }

    public float[] Floats(string name) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Data(name)).ToArray();

    static string ReadString(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes((int)r.ReadUInt64()));

    static object ReadValue(BinaryReader r, GgufValueType type) => type switch
    {
        GgufValueType.UInt32 => r.ReadUInt32(),
        GgufValueType.Int32 => r.ReadInt32(),
        GgufValueType.Float32 => r.ReadSingle(),
        GgufValueType.Bool => r.ReadByte() switch { 0 => false, 1 => true, var b => throw new InvalidDataException($"bool {b}") },
        GgufValueType.String => ReadString(r),
        GgufValueType.UInt64 => r.ReadUInt64(),
        GgufValueType.Array => ReadArray(r),
        _ => throw new InvalidDataException($"type {type} not expected from SharpLM"),
    };

    static object[] ReadArray(BinaryReader r)
    {
        var type = (GgufValueType)r.ReadUInt32();
        var values = new object[r.ReadUInt64()];
        for (int i = 0; i < values.Length; i++) values[i] = ReadValue(r, type);
        return values;
    }
}
