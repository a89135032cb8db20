using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// <c>y = x W^T</c> for a few rows of x over bf16 weights, at the speed of reading the weights: libtorch's CPU path for
/// a bf16 matrix-vector product is slower than its fp32 one, though it reads half the bytes (measured: a bf16 model
/// decoded slower than the fp32 one). A bf16 value is the top half of an fp32 one, so widening is a 16-bit shift;
/// products and sums run in fp32, as libtorch's do.
/// </summary>
public static class Bf16Product
{
    /// <summary>Most input rows it takes at once (one decoding step of a full batch).</summary>
    public const int MaxRows = Q8Matrix.MaxRows;

    /// <summary>Whether this CPU and these shapes can use it: AVX2 with FMA, bf16 [out, in] weights in CPU memory with in a
    /// multiple of 8, and at most <see cref="MaxRows"/> rows. Weights on a GPU go through libtorch.</summary>
    public static bool Applies(Tensor weight, long rows) =>
        Avx2.IsSupported && Fma.IsSupported && weight.device_type == DeviceType.CPU
        && weight.dtype == ScalarType.BFloat16 && weight.dim() == 2 && weight.shape[1] % 8 == 0
        && weight.is_contiguous() && rows is >= 1 and <= MaxRows;

    /// <summary>x [rows, in] fp32 times the bf16 weight [out, in], into y [rows, out] fp32.</summary>
    public static unsafe void Multiply(Tensor weight, ReadOnlySpan<float> x, int rows, Span<float> y, int threads)
    {
        int outputs = (int)weight.shape[0], columns = (int)weight.shape[1];
        if (x.Length < rows * columns || y.Length < rows * outputs) throw new ArgumentException("x or y is smaller than the shapes say");
        fixed (byte* w = weight.bytes)
        fixed (float* xp = x, yp = y)
        {
            var (weights, input, output) = ((nint)w, (nint)xp, (nint)yp);
            OutputRowSplit.Run(outputs, threads,
                (first, end) =>
                {
                    if (rows == 1) MultiplyOneRow(first, end, (ushort*)weights, columns, (float*)input, (float*)output);
                    else MultiplyRows(first, end, (ushort*)weights, columns, (float*)input, rows, (float*)output, outputs);
                });
        }
    }

    /// <summary>One input row (a single sequence's decoding step) with four accumulators in registers.</summary>
    // Optimised at once: tiered compilation would first run these loops unoptimised, for a short generation throughout.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void MultiplyOneRow(int first, int end, ushort* weights, int columns, float* x, float* y)
    {
        for (int o = first; o < end; o++)
        {
            var row = weights + (long)o * columns;
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            int c = 0;
            for (; c + 32 <= columns; c += 32)
            {
                a0 = Fma.MultiplyAdd(Widen(row + c), Avx.LoadVector256(x + c), a0);
                a1 = Fma.MultiplyAdd(Widen(row + c + 8), Avx.LoadVector256(x + c + 8), a1);
                a2 = Fma.MultiplyAdd(Widen(row + c + 16), Avx.LoadVector256(x + c + 16), a2);
                a3 = Fma.MultiplyAdd(Widen(row + c + 24), Avx.LoadVector256(x + c + 24), a3);
            }
            for (; c < columns; c += 8) a0 = Fma.MultiplyAdd(Widen(row + c), Avx.LoadVector256(x + c), a0);
            y[o] = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void MultiplyRows(int first, int end, ushort* weights, int columns, float* x, int rows, float* y, int outputs)
    {
        for (int o = first; o < end; o++)
        {
            var row = weights + (long)o * columns;
            // Four input rows at a time, one accumulator in a register each; a short last group repeats its last row.
            for (int r = 0; r < rows; r += 4)
            {
                float* x0 = x + r * columns, x1 = x + Math.Min(r + 1, rows - 1) * columns;
                float* x2 = x + Math.Min(r + 2, rows - 1) * columns, x3 = x + Math.Min(r + 3, rows - 1) * columns;
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                for (int c = 0; c < columns; c += 8)
                {
                    var w = Widen(row + c);
                    a0 = Fma.MultiplyAdd(w, Avx.LoadVector256(x0 + c), a0);
                    a1 = Fma.MultiplyAdd(w, Avx.LoadVector256(x1 + c), a1);
                    a2 = Fma.MultiplyAdd(w, Avx.LoadVector256(x2 + c), a2);
                    a3 = Fma.MultiplyAdd(w, Avx.LoadVector256(x3 + c), a3);
                }
                OutputRowSplit.StoreFour(y, outputs, o, r, rows, a0, a1, a2, a3);
            }
        }
    }

    /// <summary>Eight bf16 values as fp32: each is the top half of its fp32 value.</summary>
    static unsafe Vector256<float> Widen(ushort* values) => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(values), 16).AsSingle();
}
