using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// The MLP's gating, <c>y = silu(a) b</c> with <c>silu(a) = a s</c>, <c>s = sigmoid(a)</c>, as one autograd operation for
/// fp32 training on the CPU: each row's forward and backward run while the row is in the core's cache, where libtorch's
/// silu, product and their backward make several passes over the whole tensors and keep silu(a) for backward besides a
/// and b. Backward, for g = dy: <c>da = g b s (1 + a (1 - s))</c>, <c>db = g silu(a)</c>. Every element is computed on
/// its own, so the result does not depend on the thread count.
/// </summary>
sealed class FusedSwiGlu : autograd.SingleTensorFunction<FusedSwiGlu>
{
    public override string Name => "SharpLMSwiGlu";

    [ThreadStatic] static bool disabled;
    [ThreadStatic] static autograd.AutogradContext? lastContext;

    /// <summary>False leaves the gating to libtorch's silu and product on this thread: for tests and benchmarks that compare
    /// the two (thread-local, so a test that switches it changes nothing for tests running beside it).</summary>
    internal static bool Enabled
    {
        get => !disabled;
        set => disabled = !value;
    }

    /// <summary>Whether this is training's case: fp32 a and b of one shape on the CPU, with a gradient wanted.</summary>
    public static bool Applies(Tensor gate, Tensor up) =>
        Enabled && is_grad_enabled() && (gate.requires_grad || up.requires_grad) && gate.dtype == ScalarType.Float32
        && up.dtype == ScalarType.Float32 && gate.device_type == DeviceType.CPU && up.device_type == DeviceType.CPU
        && gate.dim() > 0 && gate.shape.SequenceEqual(up.shape) && gate.numel() > 0;

    /// <summary>silu(<paramref name="gate"/>) * <paramref name="up"/> (<see cref="Applies"/> must hold), on up to
    /// <paramref name="threads"/> threads (default <see cref="OutputRowSplit.Threads"/>).</summary>
    public static Tensor Apply(Tensor gate, Tensor up, int threads = 0)
    {
        // The thread count goes in as a number: libtorch tracks only tensor arguments as inputs.
        var y = apply(gate, up, threads > 0 ? threads : OutputRowSplit.Threads);
        KernelLinear.ReleaseOutputCache(lastContext); // as KernelLinear does: gradients are not materialised
        lastContext = null;
        return y;
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (gate, up, threads) = ((Tensor)vars[0], (Tensor)vars[1], (int)vars[2]);
        ctx.set_materialize_grads(false);
        lastContext = ctx;
        var (a, b) = (gate.contiguous(), up.contiguous());
        var y = empty(a.shape, ScalarType.Float32, device: CPU);
        int n = (int)a.size(-1), rows = (int)(a.numel() / n);
        unsafe
        {
            fixed (byte* aBytes = a.bytes, bBytes = b.bytes, yBytes = y.bytes)
                Gate((float*)aBytes, (float*)bBytes, (float*)yBytes, rows, n, threads);
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
        if (gradOutput.IsInvalid) return [null!, null!, null!]; // the output was not used: no gradient flows back
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
        return [da!, db!, null!]; // TorchSharp expects one per argument, the thread count included
    }

    /// <summary>y = a sigmoid(a) b, row by row.</summary>
    static unsafe void Gate(float* a, float* b, float* y, int rows, int n, int threads)
    {
        var (aAt, bAt, yAt) = ((nint)a, (nint)b, (nint)y);
        OutputRowSplit.Run(rows, threads, (first, end) =>
        {
            for (int r = first; r < end; r++)
            {
                long offset = (long)r * n;
                var gate = new ReadOnlySpan<float>((float*)aAt + offset, n);
                var output = new Span<float>((float*)yAt + offset, n);
                TensorPrimitives.Sigmoid(gate, output);
                TensorPrimitives.Multiply(output, gate, output);
                TensorPrimitives.Multiply(output, new ReadOnlySpan<float>((float*)bAt + offset, n), output);
            }
        });
    }

    /// <summary>da and db (each where not null), row by row.</summary>
    static unsafe void Gradients(float* a, float* b, float* g, float* da, float* db, int rows, int n, int threads)
    {
        var (aAt, bAt, gAt, daAt, dbAt) = ((nint)a, (nint)b, (nint)g, (nint)da, (nint)db);
        OutputRowSplit.Run(rows, threads, (first, end) =>
        {
            var (sigmoid, silu, slope) = (new float[n], new float[n], new float[n]);
            for (int r = first; r < end; r++)
            {
                long offset = (long)r * n;
                var gate = new ReadOnlySpan<float>((float*)aAt + offset, n);
                var gradient = new ReadOnlySpan<float>((float*)gAt + offset, n);
                TensorPrimitives.Sigmoid(gate, sigmoid);
                TensorPrimitives.Multiply(gate, sigmoid, silu);
                if (dbAt != 0) TensorPrimitives.Multiply(gradient, silu, new Span<float>((float*)dbAt + offset, n));
                if (daAt == 0) continue;
                // silu'(a) = s (1 + a (1 - s)) = silu (1 - s) + s
                TensorPrimitives.Subtract(1f, sigmoid, slope);
                TensorPrimitives.MultiplyAdd(silu, slope, sigmoid, slope);
                TensorPrimitives.Multiply(slope, new ReadOnlySpan<float>((float*)bAt + offset, n), slope);
                TensorPrimitives.Multiply(slope, gradient, new Span<float>((float*)daAt + offset, n));
            }
        });
    }
}
