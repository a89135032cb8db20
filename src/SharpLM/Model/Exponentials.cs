using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLM.Model;

/// <summary>
/// The exponentials of a softmax row, <c>exp(x * scale + shift)</c>, in fp32 on AVX-512, and their sum in the same pass:
/// a training step's attention and LM-head loss take about 36 M of them at `small`'s shapes. .NET's
/// <c>TensorPrimitives.Exp</c> computes a float's exponential through doubles: 1.8 G values a second on one core of an
/// Emerald Rapids Xeon, and the scale, shift and sum are passes of their own. This stays in floats (range reduction by
/// ln 2, Cephes' degree-6 polynomial, <c>vscalefps</c>), within 2 units in the last place (<c>ExponentialsTests</c>):
/// 3.0-3.6 G values a second with the scale and the sum. Attention's forward pass took 2.3 ms instead of 2.7 at `small`'s
/// shapes, its backward 5.5 instead of 5.9.
/// </summary>
static class Exponentials
{
    /// <summary>Replaces each <c>x</c> in <paramref name="row"/> by <c>exp(x * scale + shift)</c> and returns their sum,
    /// summed in a fixed order (16 running sums, then across them). Below <c>exp(-104)</c> a value is 0; a NaN stays NaN.
    /// Without AVX-512, through <c>TensorPrimitives</c>.</summary>
    public static unsafe float ScaledSum(Span<float> row, float scale, float shift)
    {
        if (!Avx512F.IsSupported)
        {
            TensorPrimitives.Multiply(row, scale, row);
            TensorPrimitives.Add(row, shift, row);
            TensorPrimitives.Exp(row, row);
            return TensorPrimitives.Sum(row);
        }
        var (a, b) = (Vector512.Create(scale), Vector512.Create(shift));
        var sums = Vector512<float>.Zero;
        fixed (float* start = row)
        {
            int i = 0;
            for (; i + 16 <= row.Length; i += 16)
            {
                var e = Exp(Avx512F.FusedMultiplyAdd(Vector512.Load(start + i), a, b));
                e.Store(start + i);
                sums += e;
            }
            if (i < row.Length)
            {
                // The last values by masked loads and stores, through the same code: every value gets the same function.
                var kept = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(row.Length - i)).AsSingle();
                var x = Avx512F.MaskLoad(start + i, kept, Vector512<float>.Zero);
                var e = Vector512.ConditionalSelect(kept, Exp(Avx512F.FusedMultiplyAdd(x, a, b)), Vector512<float>.Zero);
                Avx512F.MaskStore(start + i, kept, e);
                sums += e;
            }
        }
        return Vector512.Sum(sums);
    }

    /// <summary><c>exp(x) = 2^n exp(r)</c>, n the nearest integer to <c>x / ln 2</c> and |r| &lt;= ln 2 / 2, exp(r) by the
    /// minimax polynomial of Cephes' <c>expf</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Exp(Vector512<float> x)
    {
        // Clamped below where the result is 0 anyway (-inf included); above, scalef overflows to +inf as exp would.
        x = Avx512F.Max(Vector512.Create(-104f), x); // x second: a NaN x is what vmaxps returns
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Avx512F.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x); // ln 2 in two parts: n * hi is exact
        r = Avx512F.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        p = Avx512F.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        return Avx512F.Scale(p, n);
    }
}
