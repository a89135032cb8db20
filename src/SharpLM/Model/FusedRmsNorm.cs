using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// RMSNorm over the last dimension, <c>y = x r w</c> with <c>r = 1 / sqrt(mean(x^2) + eps)</c> per row, as one autograd
/// operation for fp32 training on the CPU: each row's forward and backward run while the row is in the core's cache, where
/// libtorch's composed steps (square, mean, add, rsqrt, two products and their backward) make about ten passes over the
/// whole tensor. Backward, for g = dy: <c>dw = sum over rows of g x r</c>, <c>dx = r g w - x r^3 / n sum(g w x)</c>.
/// The weight's gradient is summed per block of <see cref="BlockRows"/> rows, then the blocks in order, so it depends
/// neither on the thread count nor on which thread ran which rows.
/// </summary>
sealed class FusedRmsNorm : autograd.SingleTensorFunction<FusedRmsNorm>
{
    public override string Name => "SharpLMRmsNorm";

    /// <summary>Rows per partial sum of the weight's gradient; a thread's rows are whole blocks.</summary>
    const int BlockRows = 64;

    [ThreadStatic] static bool disabled;

    /// <summary>False leaves RMSNorm to libtorch's composed steps on this thread: for tests and benchmarks that compare the two
    /// (thread-local, so a test that switches it changes nothing for tests running beside it).</summary>
    internal static bool Enabled
    {
        get => !disabled;
        set => disabled = !value;
    }

    /// <summary>eps, the thread count and whether the output is rounded to bf16, as one argument: TorchSharp counts every
    /// argument, and backward returns a (null) gradient for each.</summary>
    sealed record Settings(float Eps, int Threads, bool RoundToBf16);

    /// <summary>Whether this is training's case: fp32 x [..., n] and weight [n] on the CPU, with a gradient wanted.</summary>
    public static bool Applies(Tensor x, Tensor weight) =>
        Enabled && is_grad_enabled() && (x.requires_grad || weight.requires_grad) && x.dtype == ScalarType.Float32
        && weight.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU
        && weight.dim() == 1 && x.dim() > 0 && x.size(-1) == weight.size(0) && x.numel() > 0;

    /// <summary>RMSNorm of x [..., n] under weight [n] (<see cref="Applies"/> must hold), on up to
    /// <paramref name="threads"/> threads (default <see cref="OutputRowSplit.Threads"/>). With <paramref name="roundToBf16"/>,
    /// each output row is rounded to bf16 as it is written, for products that would round it anyway, and the output is marked
    /// so (<see cref="Bf16Operands.MarkRounded"/>); backward takes the
    /// gradient as that of the unrounded output, as autocast's cast to bf16 does.</summary>
    public static Tensor Apply(Tensor x, Tensor weight, float eps, int threads = 0, bool roundToBf16 = false)
    {
        var y = OutputCache.Free(apply(x, weight, new Settings(eps, threads > 0 ? threads : OutputRowSplit.Threads, roundToBf16)));
        return roundToBf16 ? Bf16Operands.MarkRounded(y) : y;
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, weight, settings) = ((Tensor)vars[0], (Tensor)vars[1], (Settings)vars[2]);
        OutputCache.Skip(ctx);
        int n = (int)weight.size(0), rows = (int)(x.numel() / n);
        var (input, w) = (x.contiguous(), weight.contiguous());
        var y = empty(x.shape, ScalarType.Float32, device: CPU);
        var inverseRms = empty([rows], ScalarType.Float32, device: CPU); // r of each row, for backward
        unsafe
        {
            fixed (byte* xBytes = input.bytes, wBytes = w.bytes, yBytes = y.bytes, rBytes = inverseRms.bytes)
                Normalize((float*)xBytes, (float*)wBytes, (float*)yBytes, (float*)rBytes, rows, n, settings);
        }
        ctx.save_for_backward([input, w, inverseRms]);
        ctx.save_data("input needs a gradient", x.requires_grad);
        ctx.save_data("weight needs a gradient", weight.requires_grad);
        ctx.save_data("threads", settings.Threads);
        return y;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        HandedOverGradients.ReleaseEarlier();
        if (gradOutput.IsInvalid) return [null!, null!, null!]; // the output was not used: no gradient flows back
        var saved = ctx.get_saved_variables();
        using var owned = new DisposeAll([.. saved, gradOutput]);
        using var scope = NewDisposeScope();
        var (input, weight, inverseRms) = (saved[0], saved[1], saved[2]);
        int n = (int)weight.size(0), rows = (int)(input.numel() / n);
        var dy = gradOutput.to(ScalarType.Float32).contiguous(); // a view's gradient (q_norm's, transposed after) is strided
        var dx = (bool)ctx.get_data("input needs a gradient")
            ? HandedOverGradients.HandOver(empty(input.shape, ScalarType.Float32, device: CPU)) : null;
        var dw = (bool)ctx.get_data("weight needs a gradient")
            ? HandedOverGradients.HandOver(empty(weight.shape, ScalarType.Float32, device: CPU)) : null;
        var partials = dw is null ? null : zeros([(rows + BlockRows - 1) / BlockRows, n], ScalarType.Float32, device: CPU);
        unsafe
        {
            fixed (byte* xBytes = input.bytes, wBytes = weight.bytes, rBytes = inverseRms.bytes, gBytes = dy.bytes)
            fixed (byte* dxBytes = dx is null ? default : dx.bytes, partialBytes = partials is null ? default : partials.bytes)
                Gradients((float*)xBytes, (float*)wBytes, (float*)rBytes, (float*)gBytes, (float*)dxBytes, (float*)partialBytes, rows, n,
                    (int)ctx.get_data("threads"));
            if (dw is not null)
                fixed (byte* dwBytes = dw.bytes, partialBytes = partials!.bytes)
                    SumBlocks((float*)partialBytes, (int)partials.size(0), n, (float*)dwBytes);
        }
        return [dx!, dw!, null!]; // TorchSharp expects one per argument, the settings included
    }

    /// <summary>y = x r w row by row (rounded to bf16 where the settings say), keeping each row's r.</summary>
    static unsafe void Normalize(float* x, float* w, float* y, float* inverseRms, int rows, int n, Settings settings)
    {
        var (xAt, wAt, yAt, rAt, eps, round) = ((nint)x, (nint)w, (nint)y, (nint)inverseRms, settings.Eps, settings.RoundToBf16);
        OutputRowSplit.Run(rows, settings.Threads, (first, end) =>
        {
            var weight = new ReadOnlySpan<float>((float*)wAt, n);
            for (int r = first; r < end; r++)
            {
                var row = new ReadOnlySpan<float>((float*)xAt + (long)r * n, n);
                var output = new Span<float>((float*)yAt + (long)r * n, n);
                float inverse = 1 / MathF.Sqrt(TensorPrimitives.SumOfSquares(row) / n + eps);
                ((float*)rAt)[r] = inverse;
                TensorPrimitives.Multiply(row, inverse, output);
                TensorPrimitives.Multiply(output, weight, output);
                if (round) Bf16Values.RoundInFp32(output, output); // while the row is in L1
            }
        });
    }

    /// <summary>dx (where <paramref name="dx"/> is not null) and each block's partial sum of dw into
    /// <paramref name="partials"/> [blocks, n] (where not null, zeroed).</summary>
    static unsafe void Gradients(float* x, float* w, float* inverseRms, float* g, float* dx, float* partials, int rows, int n, int threads)
    {
        var (xAt, wAt, rAt, gAt, dxAt, partialsAt) = ((nint)x, (nint)w, (nint)inverseRms, (nint)g, (nint)dx, (nint)partials);
        OutputRowSplit.Run(rows, threads, (first, end) =>
        {
            // The split's bounds moved up to whole blocks: consecutive ranges still cover every row once.
            int start = Math.Min(rows, (first + BlockRows - 1) / BlockRows * BlockRows);
            int stop = Math.Min(rows, (end + BlockRows - 1) / BlockRows * BlockRows);
            var weight = new ReadOnlySpan<float>((float*)wAt, n);
            var product = new float[n];
            for (int r = start; r < stop; r++)
            {
                var row = new ReadOnlySpan<float>((float*)xAt + (long)r * n, n);
                var gradient = new ReadOnlySpan<float>((float*)gAt + (long)r * n, n);
                float inverse = ((float*)rAt)[r];
                if (dxAt != 0)
                {
                    var inputGradient = new Span<float>((float*)dxAt + (long)r * n, n);
                    TensorPrimitives.Multiply(gradient, weight, product);
                    float correction = inverse * inverse * inverse * TensorPrimitives.Dot(product, row) / n;
                    TensorPrimitives.Multiply(product, inverse, inputGradient);
                    TensorPrimitives.MultiplyAdd(row, -correction, inputGradient, inputGradient);
                }
                if (partialsAt != 0)
                {
                    var partial = new Span<float>((float*)partialsAt + (long)(r / BlockRows) * n, n);
                    TensorPrimitives.Multiply(gradient, row, product);
                    TensorPrimitives.MultiplyAdd(product, inverse, partial, partial);
                }
            }
        });
    }

    /// <summary>dw = the blocks' partial sums added in block order.</summary>
    static unsafe void SumBlocks(float* partials, int blocks, int n, float* dw)
    {
        var sum = new Span<float>(dw, n);
        sum.Clear();
        for (int b = 0; b < blocks; b++) TensorPrimitives.Add(sum, new ReadOnlySpan<float>(partials + (long)b * n, n), sum);
    }
}
