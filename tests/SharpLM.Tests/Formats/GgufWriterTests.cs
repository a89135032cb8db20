using System.Buffers.Binary;
using SharpLM.Formats;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Formats;

public class GgufWriterTests
{
    [Fact]
    public void WritesHeaderMetadataAlignedTensorInfosAndData()
    {
        using var dir = new TempDirectory();
        using var small = arange(15, dtype: float32).view(3, 5);
        using var wide = linspace(-1, 1, 128).view(2, 64);
        var writer = new GgufWriter();
        writer.Add("test.name", "héllo");
        writer.Add("test.count", 7u);
        writer.Add("test.ratio", 0.5f);
        writer.Add("test.flag", true);
        writer.Add("test.words", ["a b", "c"]);
        writer.Add("test.ids", [1, -2, 3]);
        writer.AddTensor("small", small, GgufTensorType.F32);
        writer.AddTensor("wide", wide, GgufTensorType.F16);
        writer.AddTensor("quantised", wide, GgufTensorType.Q8_0);
        writer.Write(dir.File("t.gguf"));

        var gguf = new GgufTestReader(dir.File("t.gguf"));
        Assert.Equal(3u, gguf.Version);
        Assert.Equal(["general.alignment", "test.name", "test.count", "test.ratio", "test.flag", "test.words", "test.ids"], gguf.Keys);
        Assert.Equal(32u, gguf.Metadata["general.alignment"]);
        Assert.Equal("héllo", gguf.Metadata["test.name"]);
        Assert.Equal(7u, gguf.Metadata["test.count"]);
        Assert.Equal(0.5f, gguf.Metadata["test.ratio"]);
        Assert.Equal(true, gguf.Metadata["test.flag"]);
        Assert.Equal(["a b", "c"], (object[])gguf.Metadata["test.words"]);
        Assert.Equal([1, -2, 3], (object[])gguf.Metadata["test.ids"]);

        Assert.Equal(0, gguf.DataStart % 32);
        Assert.Equal([5UL, 3UL], gguf.Tensor("small").Dims); // innermost first
        Assert.Equal([0UL, 64UL, 64UL + 256UL], gguf.Tensors.Select(t => t.Offset)); // 60 bytes padded to 64
        Assert.Equal(Enumerable.Range(0, 15).Select(i => (float)i), gguf.Floats("small"));
        var halves = gguf.Data("wide");
        Assert.Equal((Half)wide[1, 63].item<float>(), BinaryPrimitives.ReadHalfLittleEndian(halves[(127 * 2)..]));
        Assert.Equal(gguf.DataStart + 320 + 4 * 34 + 24, new FileInfo(dir.File("t.gguf")).Length); // the last tensor is padded too
    }

    [Fact]
    public void Q8_0MatchesGgmlsScaleAndRounding()
    {
        var values = new float[64];
        for (int i = 0; i < 32; i++) values[i] = i - 16.5f; // |max| 16.5: d = 16.5 / 127
        values[32] = 127; values[33] = 2.5f; values[34] = -2.5f; values[35] = 0.49f; // d = 1: halves round away from zero
        var blocks = new byte[2 * GgufQ8_0.BlockBytes];
        GgufQ8_0.Quantize(values, blocks);

        float d0 = (float)BinaryPrimitives.ReadHalfLittleEndian(blocks);
        Assert.Equal((float)(Half)(16.5f / 127), d0);
        Assert.Equal(-127, (sbyte)blocks[2]);
        for (int i = 0; i < 32; i++) Assert.True(Math.Abs(d0 * (sbyte)blocks[2 + i] - values[i]) <= d0 * 0.51f);
        var second = blocks.AsSpan(GgufQ8_0.BlockBytes);
        Assert.Equal(1f, (float)BinaryPrimitives.ReadHalfLittleEndian(second));
        Assert.Equal([127, 3, -3, 0, 0], second[2..7].ToArray().Select(b => (int)(sbyte)b));

        var zeros = new byte[GgufQ8_0.BlockBytes];
        GgufQ8_0.Quantize(new float[32], zeros);
        Assert.All(zeros, b => Assert.Equal(0, b));
    }

    [Fact]
    public void RefusesWhatLlamaCppCouldNotRead()
    {
        using var t = zeros(2, 48);
        var writer = new GgufWriter();
        Assert.Throws<ArgumentException>(() => writer.AddTensor("x", t, GgufTensorType.Q8_0)); // 48 is not a multiple of 32
        Assert.Throws<ArgumentException>(() => writer.AddTensor(new string('n', 64), t, GgufTensorType.F32));
        writer.AddTensor("x", t, GgufTensorType.F32);
        Assert.Throws<ArgumentException>(() => writer.AddTensor("x", t, GgufTensorType.F32));
        writer.Add("k", 1u);
        Assert.Throws<ArgumentException>(() => writer.Add("k", "again"));
    }
}
