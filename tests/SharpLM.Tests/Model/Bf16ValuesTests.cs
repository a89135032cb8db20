using System.Runtime.InteropServices;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>fp32 to bf16 and back as libtorch converts: the decode kernels' bf16 path must give libtorch's bits.</summary>
public sealed class Bf16ValuesTests
{
    [Fact]
    public void RoundingMatchesLibtorchBitForBitIncludingTiesNaNAndInfinities()
    {
        var random = new Random(4);
        var values = Enumerable.Range(0, 1000).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-40, 39)))).ToList();
        // Ties (low half exactly 0x8000) below an even and an odd bf16 value, the largest finite values, subnormals, NaN, infinities.
        values.AddRange([BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000), float.MaxValue,
            -float.MaxValue, float.Epsilon, 1e-39f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f]);
        var fp32 = values.ToArray(); // 1,011 values: the vector loop and the scalar tail
        var ours = new ushort[fp32.Length];
        Bf16Values.Round(fp32, ours);
        using var libtorch = tensor(fp32).to(ScalarType.BFloat16);
        var expected = MemoryMarshal.Cast<byte, ushort>(libtorch.bytes).ToArray();
        // A NaN's bits differ between libtorch's vector and scalar paths (0xFFFF, 0x7FC0): any NaN will do.
        static bool IsNaN(ushort bits) => (bits & 0x7F80) == 0x7F80 && (bits & 0x7F) != 0;
        for (int i = 0; i < fp32.Length; i++)
            if (float.IsNaN(fp32[i])) Assert.True(IsNaN(ours[i]) && IsNaN(expected[i]));
            else Assert.Equal(expected[i], ours[i]);

        var back = new float[expected.Length];
        Bf16Values.Widen(expected, back);
        using var widened = libtorch.to(ScalarType.Float32);
        Assert.Equal(widened.data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits), back.Select(BitConverter.SingleToUInt32Bits));

        // Rounded and kept in fp32 (in place, as the fused head rounds its gradient): the same values as libtorch's round trip.
        var inPlace = (float[])fp32.Clone();
        Bf16Values.RoundInFp32(inPlace, inPlace);
        for (int i = 0; i < fp32.Length; i++)
            if (float.IsNaN(fp32[i])) Assert.True(float.IsNaN(inPlace[i]));
            else Assert.Equal(BitConverter.SingleToUInt32Bits(back[i]), BitConverter.SingleToUInt32Bits(inPlace[i]));
    }
}
