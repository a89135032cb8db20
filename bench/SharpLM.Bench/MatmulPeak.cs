using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Bench;

/// <summary>The machine's peaks: GFLOP/s of a square matmul, the best of several runs, from libtorch and (fp32 on AVX-512)
/// from SharpLM's own product kernel, which is the faster of the two here; and the cores' fp32 multiply-add peak.</summary>
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

    /// <summary>The cores' fp32 multiply-add peak: GFLOP/s of AVX-512 multiply-adds on registers alone, one thread per core
    /// (<paramref name="threads"/>), the best of several runs; 0 without AVX-512. No product reaches it (a product must also
    /// load its operands), so it is the ceiling that a product's or a training step's GFLOP/s is a fraction of.</summary>
    public static double MultiplyAdd(int threads, int repeats = 5)
    {
        if (!Avx512F.IsSupported) return 0;
        const int steps = 20_000_000;
        double best = 0;
        for (int r = 0; r < repeats; r++)
        {
            var rates = new double[threads];
            var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
            {
                var clock = Stopwatch.StartNew();
                GC.KeepAlive(MultiplyAdds(steps).ToString());
                rates[i] = steps * 8.0 * 2 * Vector512<float>.Count / clock.Elapsed.TotalSeconds / 1e9;
            })).ToArray();
            foreach (var worker in workers) worker.Start();
            foreach (var worker in workers) worker.Join();
            best = Math.Max(best, rates.Sum());
        }
        return best;
    }

    /// <summary>8 independent chains of multiply-adds (enough to cover the unit's latency), kept in registers: nothing is
    /// called while they are live, else the JIT keeps them in memory.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static Vector512<float> MultiplyAdds(int steps)
    {
        var (a, b) = (Vector512.Create(1.0000001f), Vector512.Create(0.9999999f));
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (int i = 0; i < steps; i++)
        {
            s0 = Avx512F.FusedMultiplyAdd(a, b, s0); s1 = Avx512F.FusedMultiplyAdd(a, b, s1);
            s2 = Avx512F.FusedMultiplyAdd(a, b, s2); s3 = Avx512F.FusedMultiplyAdd(a, b, s3);
            s4 = Avx512F.FusedMultiplyAdd(a, b, s4); s5 = Avx512F.FusedMultiplyAdd(a, b, s5);
            s6 = Avx512F.FusedMultiplyAdd(a, b, s6); s7 = Avx512F.FusedMultiplyAdd(a, b, s7);
        }
        return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
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
