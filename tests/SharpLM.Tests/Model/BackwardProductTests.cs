using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>The backward products' kernel against libtorch's matmul, with A read in place (<c>dY W</c>) and stored transposed
/// (<c>dY^T X</c>, copied a block of rows at a time): short tiles, several blocks of rows and of depth, a column block of one
/// vector, added to C or written, split across threads.</summary>
public sealed unsafe class BackwardProductTests
{
    [Theory]
    [InlineData(false, 37, 48, 80, false, 1)]
    [InlineData(false, 130, 300, 80, true, 2)] // two blocks of depth
    [InlineData(false, 50, 300, 592, true, 2)] // a block of 512 columns and one of 80: a whole group and a short one
    [InlineData(true, 37, 48, 80, false, 1)]
    [InlineData(true, 410, 300, 80, true, 2)] // 205 rows a thread: a block of 192 and one of 13 (a tile of one row)
    [InlineData(true, 200, 520, 16, false, 1)] // 200 rows on one thread, three blocks of depth
    [InlineData(false, 50, 300, 768, true, 2)] // B's rows 3 KB apart, copied into panels: column blocks of 512 and 256
    [InlineData(true, 205, 300, 256, true, 2)] // the same under a transposed A: B's rows 1 KB apart, two blocks of depth
    public void GivesLibtorchsProduct(bool transposedA, int rows, int depth, int columns, bool accumulate, int threads)
    {
        if (!BackwardProduct.Applies(columns)) return; // no AVX-512: the callers use libtorch
        var generator = new Generator(5);
        // A as stored: [rows, depth], or [depth, rows] when transposed (a weight gradient's dY).
        using var stored = transposedA ? randn(depth, rows, generator: generator) : randn(rows, depth, generator: generator);
        using var b = randn(depth, columns, generator: generator);
        using var c0 = randn(rows, columns, generator: generator);
        using var a = transposedA ? stored.t() : stored;
        using var expected = accumulate ? c0 + a.matmul(b) : a.matmul(b);
        var c = Multiply(stored, transposedA, b, c0, rows, depth, columns, accumulate, threads);
        Assert.True(c.allclose(expected, rtol: 1e-5, atol: 1e-4));
        // Each row of C is one thread's, summed in the same order whatever the split: the same bits on one thread.
        Assert.True(c.equal(Multiply(stored, transposedA, b, c0, rows, depth, columns, accumulate, 1)).all().item<bool>());
    }

    static Tensor Multiply(Tensor stored, bool transposedA, Tensor b, Tensor c0, int rows, int depth, int columns, bool accumulate,
        int threads)
    {
        var c = c0.clone();
        fixed (byte* ap = stored.bytes, bp = b.bytes, cp = c.bytes)
        {
            var (rowStride, depthStride) = transposedA ? (1L, (long)rows) : (depth, 1L);
            BackwardProduct.Multiply((float*)ap, rowStride, depthStride, (float*)bp, (float*)cp, rows, depth, columns, threads, accumulate);
        }
        return c;
    }
}
