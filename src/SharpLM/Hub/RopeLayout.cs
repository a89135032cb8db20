using static TorchSharp.torch;

namespace SharpLM.Hub;

/// <summary>
/// Converts query/key projection weights between the two rotary layouts in use. SharpLM (like Hugging Face)
/// rotates the pairs (x[j], x[j + d/2]) of each head; Meta's original Llama, llama2.c and llama.cpp's
/// <c>llama</c> architecture rotate the interleaved pairs (x[2j], x[2j + 1]). Pair j has the same frequency
/// in both, so reordering the output rows of wq and wk inside each head makes one layout compute exactly what
/// the other does: attention scores are dot products, which a common reordering of q and k leaves unchanged.
/// </summary>
public static class RopeLayout
{
    /// <summary>Interleaved to rotate-half: row 2j of a head becomes row j, row 2j + 1 becomes row j + d/2.</summary>
    /// <param name="weight">[heads * headDim, in]</param>
    /// <param name="heads">number of heads whose rows <paramref name="weight"/> holds (key/value heads for wk)</param>
    public static Tensor ToRotateHalf(Tensor weight, int heads)
    {
        var (rows, columns, half) = Shape(weight, heads);
        // Rows of a head viewed as [d/2 pairs, 2 members]; member 0 of every pair first, then member 1.
        return weight.reshape(heads, half, 2, columns).transpose(1, 2).reshape(rows, columns);
    }

    /// <summary>Rotate-half to interleaved, the inverse of <see cref="ToRotateHalf"/> (what llama.cpp's
    /// converter applies to Hugging Face q/k weights).</summary>
    public static Tensor ToInterleaved(Tensor weight, int heads)
    {
        var (rows, columns, half) = Shape(weight, heads);
        // Rows of a head viewed as [2 halves, d/2]; row j of each half side by side.
        return weight.reshape(heads, 2, half, columns).transpose(1, 2).reshape(rows, columns);
    }

    static (long Rows, long Columns, long Half) Shape(Tensor weight, int heads)
    {
        if (weight.dim() != 2 || heads <= 0 || weight.shape[0] % (2L * heads) != 0)
            throw new ArgumentException($"expected a [heads * headDim, in] weight with an even head size for {heads} heads, " +
                                        $"got [{string.Join(", ", weight.shape)}]");
        return (weight.shape[0], weight.shape[1], weight.shape[0] / heads / 2);
    }
}
