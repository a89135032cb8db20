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
                (first, end) => MultiplyRows(first, end, (ushort*)weights, columns, (float*)input, rows, (float*)output, outputs));
        }
    }

    static unsafe void MultiplyRows(int first, int end, ushort* weights, int columns, float* x, int rows, float* y, int outputs)
    {
        var accumulators = stackalloc Vector256<float>[MaxRows];
        for (int o = first; o < end; o++)
        {
            for (int r = 0; r < rows; r++) accumulators[r] = Vector256<float>.Zero;
            var row = weights + (long)o * columns;
            for (int c = 0; c < columns; c += 8)
            {
                var widened = Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(row + c), 16).AsSingle();
                for (int r = 0; r < rows; r++) accumulators[r] = Fma.MultiplyAdd(widened, Avx.LoadVector256(x + r * columns + c), accumulators[r]);
            }
            for (int r = 0; r < rows; r++) y[r * outputs + o] = Vector256.Sum(accumulators[r]);
        }
    }
}
