using SharpLM.Formats;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Formats;

public class SafetensorsRoundTripTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static Tensor Random(params long[] shape)
    {
        var generator = new Generator(1234);
        return torch.randn(shape, generator: generator) * 3;
    }

    static void AssertSameBits(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        using var e = expected.contiguous();
        using var a = actual.contiguous();
        Assert.True(e.bytes.SequenceEqual(a.bytes), "tensor bytes differ");
    }

    [Fact]
    public void F32RoundTripIsExact()
    {
        using var scope = torch.NewDisposeScope();
        var weights = new Dictionary<string, Tensor>
        {
            ["model.embed_tokens.weight"] = Random(7, 5),
            ["model.norm.weight"] = Random(5),
            ["scalar"] = torch.tensor(float.Epsilon),
            ["empty"] = torch.empty(0, 3),
            ["special"] = torch.tensor(new[] { float.MaxValue, float.NegativeInfinity, -0f, 1e-40f }),
        };
        string path = dir.File("model.safetensors");

        SafetensorsWriter.Write(path, weights, SafetensorsDType.F32);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(weights.Count, file.Entries.Count);
        foreach (var (name, tensor) in weights)
        {
            Assert.Equal(SafetensorsDType.F32, file.GetEntry(name).DType);
            AssertSameBits(tensor, file.Load(name));
        }
    }

    [Theory]
    [InlineData(SafetensorsDType.BF16, ScalarType.BFloat16)]
    [InlineData(SafetensorsDType.F16, ScalarType.Float16)]
    public void HalfPrecisionRoundTripIsExact(SafetensorsDType dtype, ScalarType type)
    {
        using var scope = torch.NewDisposeScope();
        var half = Random(4, 6).to(type);
        string path = dir.File("half.safetensors");

        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = half }, dtype);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(dtype, file.GetEntry("w").DType);
        AssertSameBits(half, file.Load("w"));
        AssertSameBits(half.to(ScalarType.Float32), file.Load("w", ScalarType.Float32));
    }

    [Fact]
    public void F32ToBF16ConversionMatchesTorch()
    {
        using var scope = torch.NewDisposeScope();
        var full = Random(33, 17);
        string path = dir.File("bf16.safetensors");

        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = full }, SafetensorsDType.BF16);

        using var file = SafetensorsFile.Open(path);
        AssertSameBits(full.to(ScalarType.BFloat16), file.Load("w"));
    }

    [Fact]
    public void NullDTypeKeepsEachTensorsType()
    {
        using var scope = torch.NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["i64"] = torch.tensor(new long[] { long.MinValue, -1, 0, long.MaxValue }),
            ["i32"] = torch.tensor(new[] { int.MinValue, 7 }),
            ["u8"] = torch.tensor(new byte[] { 0, 255 }),
            ["bool"] = torch.tensor(new[] { true, false, true }),
            ["f64"] = torch.tensor(new[] { Math.PI }),
        };
        string path = dir.File("mixed.safetensors");

        SafetensorsWriter.Write(path, tensors);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(SafetensorsDType.I64, file.GetEntry("i64").DType);
        Assert.Equal(SafetensorsDType.BOOL, file.GetEntry("bool").DType);
        foreach (var (name, tensor) in tensors) AssertSameBits(tensor, file.Load(name));
    }

    [Fact]
    public void NonContiguousTensorsAreWrittenInLogicalOrder()
    {
        using var scope = torch.NewDisposeScope();
        var transposed = Random(3, 4).t();
        Assert.False(transposed.is_contiguous());
        string path = dir.File("t.safetensors");

        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["t"] = transposed });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal([4L, 3L], file.GetEntry("t").Shape);
        AssertSameBits(transposed, file.Load("t"));
    }

    [Fact]
    public void ChunkedCopyHandlesPartialLastChunk()
    {
        using var scope = torch.NewDisposeScope();
        var tensor = Random(1001);
        string path = dir.File("chunks.bin");
        // 12-byte chunks: 3 floats each, 1001 = 333 * 3 + 2, converted to BF16 on the way.
        using (var stream = File.Create(path)) TensorBytes.Write(stream, tensor, ScalarType.BFloat16, chunkBytes: 12);

        var back = torch.empty(1001, ScalarType.BFloat16);
        using (var handle = File.OpenHandle(path)) TensorBytes.Read(handle, 0, back, path, "x", chunkBytes: 10);

        AssertSameBits(tensor.to(ScalarType.BFloat16), back);
    }

    [Fact]
    public void MetadataRoundTripsWithFormatPt()
    {
        using var scope = torch.NewDisposeScope();
        string path = dir.File("meta.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = torch.ones(1) }, SafetensorsDType.F32,
            new Dictionary<string, string> { ["step"] = "42", ["note"] = "ünïcode \"quoted\"" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("42", file.Metadata["step"]);
        Assert.Equal("ünïcode \"quoted\"", file.Metadata["note"]);
    }

    [Fact]
    public void LoadOfUnknownNameNamesFileAndTensor()
    {
        using var scope = torch.NewDisposeScope();
        string path = dir.File("one.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = torch.ones(1) });

        using var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<SharpLMException>(() => file.Load("lm_head.weight"));
        Assert.Contains(path, e.Message);
        Assert.Contains("\"lm_head.weight\"", e.Message);
    }

    [Fact]
    public void DuplicateAndReservedNamesAreRejectedBeforeWriting()
    {
        using var scope = torch.NewDisposeScope();
        string path = dir.File("bad.safetensors");
        var duplicate = new[] { KeyValuePair.Create("a", torch.ones(1)), KeyValuePair.Create("a", torch.ones(1)) };

        Assert.Contains("appears twice", Assert.Throws<SharpLMException>(() => SafetensorsWriter.Write(path, duplicate)).Message);
        Assert.Throws<SharpLMException>(() => SafetensorsWriter.Write(path, [KeyValuePair.Create("__metadata__", torch.ones(1))]));
        Assert.Throws<SharpLMException>(() => SafetensorsWriter.Write(path, [KeyValuePair.Create("x", torch.ones(1))], SafetensorsDType.F8_E4M3));
        Assert.False(File.Exists(path));
    }
}
