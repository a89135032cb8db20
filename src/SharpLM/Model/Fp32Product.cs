using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// <c>y = x W^T</c> for a few rows of x over fp32 weights: a decoding step's matrix-vector products, on every core
/// (<see cref="DenseProduct"/>). libtorch runs them on one thread in a decoding step, as waking its OpenMP threads for
/// each small product costs more than it saves.
/// </summary>
public static class Fp32Product
{
    /// <summary>Most input rows it takes at once (one decoding step of a full batch).</summary>
    public const int MaxRows = DenseProduct.MaxRows;

    /// <summary>Whether this CPU and these shapes can use it: AVX2 with FMA, fp32 [out, in] weights on the CPU with in a
    /// multiple of 8, and at most <see cref="MaxRows"/> rows.</summary>
    public static bool Applies(Tensor weight, long rows) => DenseProduct.Applies(weight, rows, ScalarType.Float32);

    /// <summary>x [rows, in] times the weight [out, in], into y [rows, out].</summary>
    public static void Multiply(Tensor weight, ReadOnlySpan<float> x, int rows, Span<float> y, int threads) =>
        DenseProduct.Multiply<float, Weights>(weight, x, rows, y, threads);

    /// <summary>The product's output rows by range, for a split shared with other products of the same input
    /// (<see cref="FusedProjections"/>).</summary>
    internal static ProductRows OutputRows(Tensor weight) => DenseProduct.OutputRows<float, Weights>(weight);

    struct Weights : IEightWeights<float>
    {
        public static unsafe Vector256<float> Load(float* weights) => Avx.LoadVector256(weights);
    }
}
