using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>How a kernel reads eight consecutive weights as fp32 lanes: the one step in which the fp32 and bf16 decode
/// kernels differ (<see cref="Fp32Product"/>, <see cref="Bf16Product"/>).</summary>
internal unsafe interface IEightWeights<TWeight> where TWeight : unmanaged
{
    static abstract Vector256<float> Load(TWeight* weights);
}

/// <summary>
/// <c>y = x W^T</c> for a few rows of x over dense [out, in] weights in CPU memory, products and sums in fp32: the kernel
/// shared by <see cref="Fp32Product"/> and <see cref="Bf16Product"/>. The output rows are split across the cores
/// (<see cref="OutputRowSplit"/>), as a decoding step's products read every weight once and run at memory speed only
/// when every core reads.
/// </summary>
static class DenseProduct
{
    /// <summary>Most input rows it takes at once (one decoding step of a full batch).</summary>
    public const int MaxRows = Q8Matrix.MaxRows;

    /// <summary>Whether this CPU can run it (AVX2 with FMA).</summary>
    public static bool Runs => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Whether this CPU and these shapes can use it: AVX2 with FMA, <paramref name="dtype"/> [out, in] weights in
    /// CPU memory with in a multiple of 8, and at most <see cref="MaxRows"/> rows. Weights on a GPU go through libtorch.</summary>
    public static bool Applies(Tensor weight, long rows, ScalarType dtype) =>
        Runs && weight.device_type == DeviceType.CPU
        && weight.dtype == dtype && weight.dim() == 2 && weight.size(1) % 8 == 0
        && weight.is_contiguous() && rows is >= 1 and <= MaxRows;

    /// <summary>x [rows, in] fp32 times the weight [out, in], into y [rows, out] fp32.</summary>
    public static unsafe void Multiply<TWeight, TLoad>(Tensor weight, ReadOnlySpan<float> x, int rows, Span<float> y, int threads)
        where TWeight : unmanaged where TLoad : struct, IEightWeights<TWeight>
    {
        int outputs = (int)weight.size(0), columns = (int)weight.size(1);
        if (x.Length < rows * columns || y.Length < rows * outputs) throw new ArgumentException("x or y is smaller than the shapes say");
        var product = OutputRows<TWeight, TLoad>(weight);
        fixed (float* xp = x, yp = y)
        {
            var (input, output) = ((nint)xp, (nint)yp);
            OutputRowSplit.Run(outputs, threads, (first, end) => product(first, end, input, rows, output, outputs));
        }
    }

    /// <summary>The product's output rows by range (<see cref="ProductRows"/>): what <see cref="Multiply"/> splits across the
    /// cores, and <see cref="FusedProjections"/> together with other products of the same input.</summary>
    public static unsafe ProductRows OutputRows<TWeight, TLoad>(Tensor weight)
        where TWeight : unmanaged where TLoad : struct, IEightWeights<TWeight>
    {
        int columns = (int)weight.size(1);
        nint weights;
        // libtorch's memory, which the garbage collector does not move: the address holds for as long as the tensor lives.
        fixed (byte* w = weight.bytes) weights = (nint)w;
        return (first, end, x, rows, y, outputs) =>
        {
            if (rows == 1) MultiplyOneRow<TWeight, TLoad>(first, end, (TWeight*)weights, columns, (float*)x, (float*)y);
            else MultiplyRows<TWeight, TLoad>(first, end, (TWeight*)weights, columns, (float*)x, rows, (float*)y, outputs);
        };
    }

    /// <summary>One input row (a single sequence's decoding step) with four accumulators in registers; output o goes to y[o].</summary>
    // Optimised at once: tiered compilation would first run these loops unoptimised, for a short generation throughout.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void MultiplyOneRow<TWeight, TLoad>(int first, int end, TWeight* weights, int columns, float* x, float* y)
        where TWeight : unmanaged where TLoad : struct, IEightWeights<TWeight>
    {
        for (int o = first; o < end; o++)
        {
            var row = weights + (long)o * columns;
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            int c = 0;
            for (; c + 32 <= columns; c += 32)
            {
                a0 = Fma.MultiplyAdd(TLoad.Load(row + c), Avx.LoadVector256(x + c), a0);
                a1 = Fma.MultiplyAdd(TLoad.Load(row + c + 8), Avx.LoadVector256(x + c + 8), a1);
                a2 = Fma.MultiplyAdd(TLoad.Load(row + c + 16), Avx.LoadVector256(x + c + 16), a2);
                a3 = Fma.MultiplyAdd(TLoad.Load(row + c + 24), Avx.LoadVector256(x + c + 24), a3);
            }
            for (; c < columns; c += 8) a0 = Fma.MultiplyAdd(TLoad.Load(row + c), Avx.LoadVector256(x + c), a0);
            y[o] = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void MultiplyRows<TWeight, TLoad>(int first, int end, TWeight* weights, int columns, float* x, int rows, float* y,
        int outputs) where TWeight : unmanaged where TLoad : struct, IEightWeights<TWeight>
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
                    var w = TLoad.Load(row + c);
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
