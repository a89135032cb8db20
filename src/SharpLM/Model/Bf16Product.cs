using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// <c>y = x W^T</c> for a few rows of x over bf16 weights, at the speed of reading the weights (<see cref="DenseProduct"/>):
/// libtorch's CPU path for a bf16 matrix-vector product is slower than its fp32 one, though it reads half the bytes
/// (measured: a bf16 model decoded slower than the fp32 one). A bf16 value is the top half of an fp32 one, so widening
/// is a 16-bit shift; products and sums run in fp32, as libtorch's do.
/// </summary>
public static class Bf16Product
{
    /// <summary>Most input rows it takes at once (one decoding step of a full batch).</summary>
    public const int MaxRows = DenseProduct.MaxRows;

    /// <summary>Whether this CPU and these shapes can use it: AVX2 with FMA, bf16 [out, in] weights in CPU memory with in a
    /// multiple of 8, and at most <see cref="MaxRows"/> rows. Weights on a GPU go through libtorch.</summary>
    public static bool Applies(Tensor weight, long rows) => DenseProduct.Applies(weight, rows, ScalarType.BFloat16);

    /// <summary>x [rows, in] fp32 times the bf16 weight [out, in], into y [rows, out] fp32.</summary>
    public static void Multiply(Tensor weight, ReadOnlySpan<float> x, int rows, Span<float> y, int threads) =>
        DenseProduct.Multiply<ushort, Weights>(weight, x, rows, y, threads);

    /// <summary>The product's output rows by range, for a split shared with other products of the same input
    /// (<see cref="FusedProjections"/>).</summary>
    internal static ProductRows OutputRows(Tensor weight) => DenseProduct.OutputRows<ushort, Weights>(weight);

    /// <summary>Eight bf16 values as fp32: each is the top half of its fp32 value.</summary>
    struct Weights : IEightWeights<ushort>
    {
        public static unsafe Vector256<float> Load(ushort* weights) =>
            Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(weights), 16).AsSingle();
    }
}
