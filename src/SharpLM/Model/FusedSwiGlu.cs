using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// The MLP's gating, <c>y = silu(a) b</c> with <c>silu(a) = a s</c>, <c>s = sigmoid(a)</c>, as one autograd operation for
/// fp32 training on the CPU: forward reads a and b once, backward a, b and g = dy once, where libtorch's silu, product and
/// their backward make several passes over the whole tensors, and keep silu(a) for backward besides a and b. Backward:
/// <c>da = g b s (1 + a (1 - s))</c>, <c>db = g silu(a)</c>. Every element is computed on its own, so the result does not
/// depend on the thread count.
/// </summary>
sealed class FusedSwiGlu : autograd.SingleTensorFunction<FusedSwiGlu>
{
    public override string Name => "SharpLMSwiGlu";

    const int Width = 16; // floats in a Vector512

    [ThreadStatic] static bool disabled;

    /// <summary>False leaves the gating to libtorch's silu and product on this thread: for tests and benchmarks that compare
    /// the two (thread-local, so a test that switches it changes nothing for tests running beside it).</summary>
    internal static bool Enabled
    {
        get => !disabled;
        set => disabled = !value;
    }

    /// <summary>Whether this is training's case, on a CPU with AVX-512: fp32 a and b of one shape on the CPU, with a gradient
    /// wanted.</summary>
    public static bool Applies(Tensor gate, Tensor up) =>
        Enabled && Vector512.IsHardwareAccelerated && is_grad_enabled() && (gate.requires_grad || up.requires_grad)
        && gate.dtype == ScalarType.Float32 && up.dtype == ScalarType.Float32 && gate.device_type == DeviceType.CPU
        && up.device_type == DeviceType.CPU && gate.dim() > 0 && gate.shape.SequenceEqual(up.shape) && gate.numel() > 0;

    /// <summary>silu(<paramref name="gate"/>) * <paramref name="up"/> (<see cref="Applies"/> must hold), on up to
    /// <paramref name="threads"/> threads (default <see cref="OutputRowSplit.Threads"/>). With <paramref name="roundToBf16"/>,
    /// each output value is rounded to bf16 as it is written, for a product that would round it anyway, and the output is
    /// marked so (<see cref="Bf16Operands.MarkRounded"/>); backward takes the
    /// gradient as that of the unrounded output, as autocast's cast to bf16 does.</summary>
    public static Tensor Apply(Tensor gate, Tensor up, int threads = 0, bool roundToBf16 = false)
    {
        // The thread count and the flag go in as arguments, for which backward returns null gradients as for the tensors.
        var y = OutputCache.Free(apply(gate, up, threads > 0 ? threads : OutputRowSplit.Threads, roundToBf16));
        return roundToBf16 ? Bf16Operands.MarkRounded(y) : y;
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (gate, up, threads, round) = ((Tensor)vars[0], (Tensor)vars[1], (int)vars[2], (bool)vars[3]);
        OutputCache.Skip(ctx);
        var (a, b) = (gate.contiguous(), up.contiguous());
        var y = empty(a.shape, ScalarType.Float32, device: CPU);
        int n = (int)a.size(-1), rows = (int)(a.numel() / n);
        unsafe
        {
            fixed (byte* aBytes = a.bytes, bBytes = b.bytes, yBytes = y.bytes)
                Gate((float*)aBytes, (float*)bBytes, (float*)yBytes, rows, n, threads, round);
        }
        ctx.save_for_backward([a, b]);
        ctx.save_data("gate needs a gradient", gate.requires_grad);
        ctx.save_data("up needs a gradient", up.requires_grad);
        ctx.save_data("threads", threads);
        return y;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        HandedOverGradients.ReleaseEarlier();
        if (gradOutput.IsInvalid) return [null!, null!, null!, null!]; // the output was not used: no gradient flows back
        var saved = ctx.get_saved_variables();
        using var owned = new DisposeAll([.. saved, gradOutput]);
        using var scope = NewDisposeScope();
        var (a, b) = (saved[0], saved[1]);
        int n = (int)a.size(-1), rows = (int)(a.numel() / n);
        var dy = gradOutput.to(ScalarType.Float32).contiguous();
        var da = (bool)ctx.get_data("gate needs a gradient") ? HandedOverGradients.HandOver(empty(a.shape, ScalarType.Float32, device: CPU)) : null;
        var db = (bool)ctx.get_data("up needs a gradient") ? HandedOverGradients.HandOver(empty(b.shape, ScalarType.Float32, device: CPU)) : null;
        unsafe
        {
            fixed (byte* aBytes = a.bytes, bBytes = b.bytes, gBytes = dy.bytes)
            fixed (byte* daBytes = da is null ? default : da.bytes, dbBytes = db is null ? default : db.bytes)
                Gradients((float*)aBytes, (float*)bBytes, (float*)gBytes, (float*)daBytes, (float*)dbBytes, rows, n, (int)ctx.get_data("threads"));
        }
        return [da!, db!, null!, null!]; // TorchSharp expects one per argument, the thread count and the flag included
    }

    /// <summary>y = a sigmoid(a) b, rounded to bf16 where <paramref name="round"/>.</summary>
    static unsafe void Gate(float* a, float* b, float* y, int rows, int n, int threads, bool round)
    {
        var (aAt, bAt, yAt) = ((nint)a, (nint)b, (nint)y);
        OutputRowSplit.Run(rows, threads, (first, end) =>
        {
            long i = (long)first * n, stop = (long)end * n;
            for (; i + Width <= stop; i += Width) GateVector((float*)aAt + i, (float*)bAt + i, (float*)yAt + i, round);
            if (i == stop) return;
            // The last few elements through the same arithmetic, in zero-padded copies.
            int count = (int)(stop - i);
            float* padded = stackalloc float[3 * Width];
            new Span<float>(padded, 3 * Width).Clear();
            Copy((float*)aAt + i, padded, count);
            Copy((float*)bAt + i, padded + Width, count);
            GateVector(padded, padded + Width, padded + 2 * Width, round);
            Copy(padded + 2 * Width, (float*)yAt + i, count);
        });
    }

    /// <summary>da and db (each where not null).</summary>
    static unsafe void Gradients(float* a, float* b, float* g, float* da, float* db, int rows, int n, int threads)
    {
        var (aAt, bAt, gAt, daAt, dbAt) = ((nint)a, (nint)b, (nint)g, (nint)da, (nint)db);
        OutputRowSplit.Run(rows, threads, (first, end) =>
        {
            long i = (long)first * n, stop = (long)end * n;
            for (; i + Width <= stop; i += Width)
                GradientVectors((float*)aAt + i, (float*)bAt + i, (float*)gAt + i, daAt == 0 ? null : (float*)daAt + i,
                    dbAt == 0 ? null : (float*)dbAt + i);
            if (i == stop) return;
            int count = (int)(stop - i);
            float* padded = stackalloc float[5 * Width];
            new Span<float>(padded, 5 * Width).Clear();
            Copy((float*)aAt + i, padded, count);
            Copy((float*)bAt + i, padded + Width, count);
            Copy((float*)gAt + i, padded + 2 * Width, count);
            GradientVectors(padded, padded + Width, padded + 2 * Width, padded + 3 * Width, padded + 4 * Width);
            if (daAt != 0) Copy(padded + 3 * Width, (float*)daAt + i, count);
            if (dbAt != 0) Copy(padded + 4 * Width, (float*)dbAt + i, count);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void GateVector(float* a, float* b, float* y, bool round)
    {
        var gate = Vector512.Load(a);
        var product = gate * Sigmoid(gate) * Vector512.Load(b);
        (round ? Bf16Values.RoundInFp32(product) : product).Store(y);
    }

    /// <summary>da and db of one vector, each where its pointer is not null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void GradientVectors(float* a, float* b, float* g, float* da, float* db)
    {
        var (gate, gradient) = (Vector512.Load(a), Vector512.Load(g));
        var sigmoid = Sigmoid(gate);
        var silu = gate * sigmoid;
        if (db != null) (gradient * silu).Store(db);
        // silu'(a) = s (1 + a (1 - s)) = silu (1 - s) + s
        if (da != null) (gradient * Vector512.Load(b) * Vector512.FusedMultiplyAdd(silu, Vector512<float>.One - sigmoid, sigmoid)).Store(da);
    }

    static unsafe void Copy(float* from, float* to, int count) => new ReadOnlySpan<float>(from, count).CopyTo(new Span<float>(to, count));

    /// <summary>1 / (1 + exp(-x)), exp as Cephes' expf computes it (within 2 ulp): .NET's own vector exp
    /// (<c>Vector512.Exp</c>, <c>TensorPrimitives.Sigmoid</c>'s) ran at a third of this speed on a Zen 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Sigmoid(Vector512<float> x)
    {
        // exp(-x) = 2^k exp(r), k = round(-x / ln 2), |r| <= ln 2 / 2; the bounds keep 2^k a normal fp32.
        var t = Vector512.Min(Vector512.Max(-x, Vector512.Create(-87f)), Vector512.Create(88f));
        var k = Vector512.Round(t * Vector512.Create(1.44269504f));
        var r = t - k * Vector512.Create(0.693359375f) - k * Vector512.Create(-2.12194440e-4f); // ln 2 in two parts
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1.9875691500e-4f), r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var twoToK = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(k) + Vector512.Create(127), 23).AsSingle();
        return Vector512<float>.One / (Vector512<float>.One + p * twoToK);
    }
}
