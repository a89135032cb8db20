using System.Diagnostics;
using System.Runtime.InteropServices;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Bench;

/// <summary>The machine's practical peak: GFLOP/s of a square matmul, the best of several runs, from libtorch and (fp32 on
/// AVX-512) from SharpLM's own product kernel, which is the faster of the two here.</summary>
static class MatmulPeak
{
    /// <summary>libtorch's square matmul of <paramref name="dtype"/>.</summary>
    public static double Libtorch(ScalarType dtype, int n = 2048, int repeats = 10)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n).to(dtype);
        var b = randn(n, n).to(dtype);
        return Best(n, repeats, () => a.matmul(b).Dispose());
    }

    /// <summary>SharpLM's fp32 kernel (<see cref="PromptProduct"/>) on the same square product; 0 where it does not run.</summary>
    public static double SharpLM(int n = 2048, int repeats = 10)
    {
        if (!PromptProduct.Applies(n)) return 0;
        using var scope = NewDisposeScope();
        var a = randn(n, n).contiguous();
        var b = randn(n, n).contiguous();
        var y = new float[n * n];
        return Best(n, repeats, () => PromptProduct.Multiply(b, MemoryMarshal.Cast<byte, float>(a.bytes), n, y, get_num_threads()));
    }

    static double Best(int n, int repeats, Action product)
    {
        product(); // warm-up
        double best = 0;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            product();
            best = Math.Max(best, 2.0 * n * n * n / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }
}
