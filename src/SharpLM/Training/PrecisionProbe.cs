using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Decides what <see cref="Precision.Auto"/> means on this machine: bf16 when libtorch's bf16 matmul is clearly faster
/// than fp32 here (CPUs with AVX-512 bf16 or AMX run it natively and much faster; others emulate it and are far slower).
/// Only the CPU is measured: on another device Auto is fp32.
/// </summary>
public static class PrecisionProbe
{
    static (Precision Choice, double Speedup)? cached;

    /// <param name="device">where the model is (null = the CPU)</param>
    public static Precision Resolve(Precision requested, Device? device = null) =>
        requested != Precision.Auto ? requested : device is null || device.type == DeviceType.CPU ? Measure().Choice : Precision.Fp32;

    /// <summary>Whether bf16 products on this device run on SharpLM's fp32 kernels over operands rounded to bf16
    /// (<see cref="Model.Projection.Bf16OnKernels"/>): on a CPU whose bf16 matmul is slower than its fp32 one (measured 0.6x on
    /// two Emerald Rapids cores without AMX, 2.2x on two Zen 4 cores).</summary>
    public static bool Bf16OnKernels(Device? device = null) => (device is null || device.type == DeviceType.CPU) && Measure().Speedup < 1;

    /// <summary>Sets the model's products to a resolved <paramref name="precision"/> (Fp32 or Bf16), the bf16 ones where they run
    /// best on this device (<see cref="Bf16OnKernels"/>).</summary>
    public static void Apply(Model.LlamaForCausalLM model, Precision precision)
    {
        bool bf16 = precision == Precision.Bf16;
        model.SetComputeType(bf16 ? ScalarType.BFloat16 : null, bf16OnKernels: bf16 && Bf16OnKernels(model.Device));
    }

    /// <summary>The choice and the measured bf16/fp32 matmul speed ratio on the CPU (measured once per process, with a few small
    /// matmuls).</summary>
    public static (Precision Choice, double Speedup) Measure()
    {
        if (cached is { } c) return c;
        using var scope = NewDisposeScope();
        using var generator = new Generator(0); // not the global one: a seeded run draws the same numbers with or without the probe
        var fp32 = randn(512, 512, device: CPU, generator: generator);
        var bf16 = fp32.to(ScalarType.BFloat16);
        fp32.matmul(fp32); // first calls pay for kernel selection
        bf16.matmul(bf16);
        var speedup = Speedup(type => Seconds(type == ScalarType.Float32 ? fp32 : bf16), rounds: 9);
        cached = (speedup >= 1.3 ? Precision.Bf16 : Precision.Fp32, speedup);
        return cached.Value;
    }

    /// <summary>fp32 time over bf16 time, each the best of <paramref name="rounds"/> rounds that time one product of each type,
    /// alternated: a stretch of contention (another process, the VM's neighbours) then slows both types alike. Timed one type
    /// after the other, a stretch that fell on fp32's timings alone made bf16 look faster than it is (seen once, in
    /// `bench train`'s process right after its children exited): enough, on a CPU where it is slower, to move bf16's products
    /// off SharpLM's kernels onto libtorch's bf16 matmul, or to make Auto choose bf16.</summary>
    internal static double Speedup(Func<ScalarType, double> seconds, int rounds)
    {
        double fp32 = double.MaxValue, bf16 = double.MaxValue;
        for (int i = 0; i < rounds; i++)
        {
            fp32 = Math.Min(fp32, seconds(ScalarType.Float32));
            bf16 = Math.Min(bf16, seconds(ScalarType.BFloat16));
        }
        return fp32 / bf16;
    }

    static double Seconds(Tensor a)
    {
        var clock = Stopwatch.StartNew();
        a.matmul(a).Dispose();
        return clock.Elapsed.TotalSeconds;
    }
}
