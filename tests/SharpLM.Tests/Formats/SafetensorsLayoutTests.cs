using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using SharpLM.Formats;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Formats;

/// <summary>The bytes on disk, checked against the format's specification rather than against our own reader.</summary>
public class SafetensorsLayoutTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void HeaderIsLengthPrefixedPaddedJsonWithContiguousOffsets()
    {
        using var scope = torch.NewDisposeScope();
        string path = dir.File("layout.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["b.weight"] = torch.ones(3, 2),
            ["a.weight"] = torch.ones(5),
            ["c"] = torch.ones(1, 1, 7),
        };
        SafetensorsWriter.Write(path, tensors, SafetensorsDType.BF16);
        byte[] bytes = File.ReadAllBytes(path);

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, (8 + headerLength) % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.Matches(@"^\{.*\} *$", header); // JSON object, then only space padding

        using var json = JsonDocument.Parse(header);
        var properties = json.RootElement.EnumerateObject().ToList();
        Assert.Equal(["__metadata__", "a.weight", "b.weight", "c"], properties.Select(p => p.Name));
        Assert.Equal("pt", json.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());

        long position = 0;
        foreach (var property in properties.Skip(1))
        {
            Assert.Equal("BF16", property.Value.GetProperty("dtype").GetString());
            long elements = property.Value.GetProperty("shape").EnumerateArray().Aggregate(1L, (n, d) => n * d.GetInt64());
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64()).ToArray();
            Assert.Equal(position, offsets[0]);
            Assert.Equal(elements * 2, offsets[1] - offsets[0]);
            position = offsets[1];
        }
        Assert.Equal(bytes.Length - 8 - (long)headerLength, position);
    }

    [Fact]
    public void MixedTypesAreStoredLargestElementFirstSoEachTensorIsAligned()
    {
        using var scope = torch.NewDisposeScope();
        string path = dir.File("mixed.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["a.half"] = torch.ones(3, dtype: ScalarType.Float16),
            ["b.long"] = torch.ones(2, dtype: ScalarType.Int64),
            ["c.byte"] = torch.ones(5, dtype: ScalarType.Byte),
            ["d.float"] = torch.ones(1, dtype: ScalarType.Float32),
            ["e.long"] = torch.ones(1, dtype: ScalarType.Int64),
        };
        SafetensorsWriter.Write(path, tensors);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["b.long", "e.long", "d.float", "a.half", "c.byte"], file.Entries.Select(e => e.Name));
        foreach (var entry in file.Entries) Assert.Equal(0, entry.DataBegin % entry.DType.ElementSize());
    }

    [Fact]
    public void HandBuiltFileIsReadCorrectly()
    {
        // Written by hand from the specification: tensors stored in a different order than named,
        // little-endian data, metadata present, header padded with spaces.
        string header = """{"__metadata__":{"source":"hand"},"zeta":{"dtype":"F32","shape":[2],"data_offsets":[6,14]},"alpha":""" +
                        """{"dtype":"I16","shape":[1,3],"data_offsets":[0,6]}}""";
        var data = new byte[14];
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(0), -2);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(2), 300);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(4), short.MaxValue);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(6), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(10), -0.25f);
        string path = dir.Write("hand.safetensors", SafetensorsBytes.Build(header, data, padTo: 8));

        using var file = SafetensorsFile.Open(path);

        Assert.Equal("hand", file.Metadata["source"]);
        Assert.Equal(["alpha", "zeta"], file.Entries.Select(e => e.Name));
        var alpha = file.GetEntry("alpha");
        Assert.Equal(SafetensorsDType.I16, alpha.DType);
        Assert.Equal([1L, 3L], alpha.Shape);
        using var alphaTensor = file.Load("alpha");
        Assert.Equal(ScalarType.Int16, alphaTensor.dtype);
        Assert.Equal([-2, 300, short.MaxValue], alphaTensor.data<short>().ToArray());
        using var zeta = file.Load("zeta");
        Assert.Equal([1.5f, -0.25f], zeta.data<float>().ToArray());
        using var zetaAsBf16 = file.Load("zeta", ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, zetaAsBf16.dtype);
    }

    [Fact]
    public void UnsupportedDTypeIsListedButNotLoadable()
    {
        string header = """{"f8":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}""";
        string path = dir.Write("f8.safetensors", SafetensorsBytes.Build(header, new byte[4]));

        using var file = SafetensorsFile.Open(path);

        Assert.Equal(SafetensorsDType.F8_E4M3, Assert.Single(file.Entries).DType);
        var e = Assert.Throws<SharpLMException>(() => file.Load("f8"));
        Assert.Contains(path, e.Message);
        Assert.Contains("\"f8\"", e.Message);
    }
}

/// <summary>Assembles safetensors bytes by hand: 8-byte little-endian header length, header, data.</summary>
static class SafetensorsBytes
{
    public static byte[] Build(string header, byte[] data, int padTo = 1, ulong? declaredLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        int padded = (json.Length + padTo - 1) / padTo * padTo;
        var bytes = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)padded);
        json.CopyTo(bytes, 8);
        bytes.AsSpan(8 + json.Length, padded - json.Length).Fill((byte)' ');
        data.CopyTo(bytes, 8 + padded);
        return bytes;
    }
}
