using System.Buffers.Binary;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace SharpLM.Formats;

/// <summary>
/// ggml's Q8_0 quantisation: each block of 32 values is stored as an fp16 scale d = max|x| / 127 followed by the
/// 32 values x / d rounded to int8 (halves away from zero, as C's roundf). Dequantised value = d * q.
/// </summary>
public static class GgufQ8_0
{
    public const int BlockSize = 32;
    public const int BlockBytes = 2 + BlockSize;

    /// <summary>Quantises <paramref name="values"/> (a multiple of 32 long) into <paramref name="destination"/>.</summary>
    public static void Quantize(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (values.Length % BlockSize != 0) throw new ArgumentException($"Q8_0 needs a multiple of {BlockSize} values, got {values.Length}");
        if (destination.Length < values.Length / BlockSize * BlockBytes) throw new ArgumentException("destination too small", nameof(destination));
        for (int block = 0; block < values.Length / BlockSize; block++)
        {
            var x = values.Slice(block * BlockSize, BlockSize);
            var output = destination.Slice(block * BlockBytes, BlockBytes);
            float max = 0;
            foreach (float v in x) max = Math.Max(max, Math.Abs(v));
            float d = max / 127;
            float inverse = d != 0 ? 1 / d : 0;
            BinaryPrimitives.WriteHalfLittleEndian(output, (Half)d);
            for (int i = 0; i < BlockSize; i++)
                output[2 + i] = (byte)(sbyte)MathF.Round(x[i] * inverse, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>Streams <paramref name="tensor"/> (row-major, converted to fp32) to <paramref name="stream"/> as Q8_0,
    /// a bounded chunk at a time.</summary>
    public static void Write(Stream stream, Tensor tensor)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var flat = tensor.detach().reshape(-1);
        const long chunk = BlockSize * 32_768;
        var bytes = new byte[chunk / BlockSize * BlockBytes];
        for (long start = 0; start < flat.numel(); start += chunk)
        {
            using var chunkScope = NewDisposeScope();
            long length = Math.Min(chunk, flat.numel() - start);
            var part = flat.narrow(0, start, length).to(ScalarType.Float32, CPU).contiguous();
            int written = (int)(length / BlockSize * BlockBytes);
            Quantize(MemoryMarshal.Cast<byte, float>(part.bytes), bytes.AsSpan(0, written));
            stream.Write(bytes, 0, written);
        }
    }
}
