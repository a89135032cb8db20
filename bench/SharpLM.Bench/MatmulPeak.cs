using System.Diagnostics;
using static TorchSharp.torch;

namespace SharpLM.Bench;

/// <summary>The machine's practical peak: GFLOP/s of libtorch's square matmul, the best of several runs.</summary>
static class MatmulPeak
{
    public static double Measure(ScalarType dtype, int n = 2048, int repeats = 10)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n).to(dtype);
        var b = randn(n, n).to(dtype);
        a.matmul(b); // warm-up
        double best = 0;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            using var c = a.matmul(b);
            best = Math.Max(best, 2.0 * n * n * n / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }
}
