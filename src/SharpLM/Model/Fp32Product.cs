using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// <c>y = x W^T</c> for a few rows of x over fp32 weights: a decoding step's matrix-vector products, which read every
/// weight once and so run at memory speed when the output rows are split across the cores (<see cref="OutputRowSplit"/>).
/// libtorch runs them on one thread in a decoding step, as waking its OpenMP threads for each small product costs more
/// than it saves.
/// </summary>
public static class Fp32Product
{
    /// <summary>Most input rows it takes at once (one decoding step of a full batch).</summary>
    public const int MaxRows = Q8Matrix.MaxRows;

    /// <summary>Whether this CPU and these shapes can use it: AVX2 with FMA, fp32 [out, in] weights on the CPU with in a
    /// multiple of 8, and at most <see cref="MaxRows"/> rows.</summary>
    public static bool Applies(Tensor weight, long rows) =>
        Avx2.IsSupported && Fma.IsSupported && weight.dtype == ScalarType.Float32 && weight.dim() == 2 && weight.shape[1] % 8 == 0
        && weight.device_type == TorchSharp.DeviceType.CPU && weight.is_contiguous() && rows is >= 1 and <= MaxRows;

    /// <summary>x [rows, in] times the weight [out, in], into y [rows, out].</summary>
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
                    if (rows == 1) MultiplyOneRow(first, end, (float*)weights, columns, (float*)input, (float*)output);
                    else MultiplyRows(first, end, (float*)weights, columns, (float*)input, rows, (float*)output, outputs);
                });
        }
    }

    /// <summary>One input row (a single sequence's decoding step) with four accumulators in registers.</summary>
    // Optimised at once: tiered compilation would first run these loops unoptimised, for a short generation throughout.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void MultiplyOneRow(int first, int end, float* weights, int columns, float* x, float* y)
    {
        for (int o = first; o < end; o++)
        {
            var row = weights + (long)o * columns;
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            int c = 0;
            for (; c + 32 <= columns; c += 32)
            {
                a0 = Fma.MultiplyAdd(Avx.LoadVector256(row + c), Avx.LoadVector256(x + c), a0);
                a1 = Fma.MultiplyAdd(Avx.LoadVector256(row + c + 8), Avx.LoadVector256(x + c + 8), a1);
                a2 = Fma.MultiplyAdd(Avx.LoadVector256(row + c + 16), Avx.LoadVector256(x + c + 16), a2);
                a3 = Fma.MultiplyAdd(Avx.LoadVector256(row + c + 24), Avx.LoadVector256(x + c + 24), a3);
            }
            for (; c < columns; c += 8) a0 = Fma.MultiplyAdd(Avx.LoadVector256(row + c), Avx.LoadVector256(x + c), a0);
            y[o] = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void MultiplyRows(int first, int end, float* weights, int columns, float* x, int rows, float* y, int outputs)
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
                    var w = Avx.LoadVector256(row + c);
                    a0 = Fma.MultiplyAdd(w, Avx.LoadVector256(x0 + c), a0);
                    a1 = Fma.MultiplyAdd(w, Avx.LoadVector256(x1 + c), a1);
                    a2 = Fma.MultiplyAdd(w, Avx.LoadVector256(x2 + c), a2);
                    a3 = Fma.MultiplyAdd(w, Avx.LoadVector256(x3 + c), a3);
                }
                OutputRowSplit.StoreFour(y, outputs, o, r, rows, a0, a1, a2, a3);
            }
        }
    }
}
