using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// <c>x W^T</c> as an autograd operation on SharpLM's kernels, for training: the forward product on
/// <see cref="PromptProduct"/>, the backward ones (<c>dX = dY W</c>, <c>dW = dY^T X</c>) on <see cref="BackwardProduct"/>.
/// At training's shapes (2,048 rows) libtorch's fp32 products ran at 100-180 GFLOP/s on two cores of an earlier host and
/// these at 300-370; on two Zen 4 cores (multiply-add peak 230) these run at 177-223. Each output is one thread's sum in a
/// fixed order, so results do not depend on the thread count.
/// </summary>
sealed class KernelLinear : autograd.SingleTensorFunction<KernelLinear>
{
    public override string Name => "SharpLMLinear";

    /// <summary>x [..., in] fp32 times a contiguous fp32 weight [out, in] in CPU memory (<see cref="Applies"/>). With
    /// <paramref name="bf16"/>, every product multiplies its operands rounded to bf16, x and the weight forward, the output's
    /// gradient with each of them backward, and sums in fp32: a bf16 matmul's arithmetic (<see cref="Projection.Bf16OnKernels"/>).
    /// Only the rounded operands are new: x is saved for backward as it came, and rounded again there.</summary>
    public static Tensor Apply(Tensor x, Tensor weight, bool bf16 = false) => OutputCache.Free(apply(x, weight, bf16));

    /// <summary>Whether this CPU can multiply <paramref name="rows"/> rows of fp32 <paramref name="x"/> by this weight.</summary>
    public static bool Applies(Tensor x, Tensor weight, long rows) =>
        x.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32 && weight.device_type == DeviceType.CPU
        && x.device_type == DeviceType.CPU && weight.is_contiguous() && rows > DenseProduct.MaxRows
        && PromptProduct.Applies(weight.size(1));

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, weight, bf16) = ((Tensor)vars[0], (Tensor)vars[1], (bool)vars[2]);
        OutputCache.Skip(ctx);
        int columns = (int)weight.size(1), outputs = (int)weight.size(0), rows = (int)(x.numel() / columns);
        var input = x.contiguous();
        ctx.save_for_backward([input, weight]);
        ctx.save_data("input needs a gradient", x.requires_grad);
        ctx.save_data("weight needs a gradient", weight.requires_grad);
        ctx.save_data("bf16", bf16);
        var y = empty(Projection.ShapeWithLast(x, outputs), ScalarType.Float32, device: CPU);
        Tensor? roundedInput = bf16 ? RoundedToBf16(input, 0) : null, roundedWeight = bf16 ? RoundedToBf16(weight, 1) : null;
        using var rounded = new DisposeAll([.. new[] { roundedInput, roundedWeight }.OfType<Tensor>()]);
        PromptProduct.Multiply(roundedWeight ?? weight, Floats(roundedInput ?? input), rows, Floats(y), OutputRowSplit.Threads);
        return y;
    }

    /// <summary>Buffers this thread rounds operands into (<see cref="RoundedToBf16(Tensor, int)"/>), kept for its next product
    /// (freed with the thread, by the tensors' finalisers).</summary>
    [ThreadStatic] static Tensor?[]? roundingBuffers;

    /// <summary><paramref name="t"/>'s values rounded to bf16 (<see cref="Bf16Values.RoundInFp32"/>), on the kernels' threads,
    /// into this thread's buffer number <paramref name="buffer"/> (0-2): a view that is valid until this thread rounds into
    /// that buffer again. A new tensor for every operand instead cost `base` 0.6-1 GB of peak memory: the pages the
    /// allocator got back stayed with the process, a copy for every product of a step.</summary>
    internal static Tensor RoundedToBf16(Tensor t, int buffer)
    {
        roundingBuffers ??= new Tensor?[3];
        long count = t.numel();
        var held = roundingBuffers[buffer];
        if (held is null || held.numel() < count)
        {
            held?.Dispose();
            held = roundingBuffers[buffer] = empty(count, ScalarType.Float32, device: CPU).DetachFromDisposeScope();
        }
        using var prefix = held.narrow(0, 0, count);
        return RoundInto(t, prefix.view(t.shape));
    }

    /// <summary>A new fp32 tensor of <paramref name="t"/>'s values rounded to bf16 (<see cref="Bf16Values.RoundInFp32"/>), on the
    /// kernels' threads.</summary>
    internal static Tensor RoundedToBf16(Tensor t) => RoundInto(t, empty(t.shape, ScalarType.Float32, device: CPU));

    static unsafe Tensor RoundInto(Tensor t, Tensor rounded)
    {
        var source = t.contiguous();
        long count = source.numel();
        fixed (byte* from = source.bytes, to = rounded.bytes)
        {
            var (fromAt, toAt) = ((nint)from, (nint)to);
            OutputRowSplit.Run((int)((count + 4095) / 4096), OutputRowSplit.Threads, (first, end) =>
            {
                long start = first * 4096L, length = Math.Min(end * 4096L, count) - start;
                Bf16Values.RoundInFp32(new ReadOnlySpan<float>((float*)fromAt + start, (int)length),
                    new Span<float>((float*)toAt + start, (int)length));
            });
        }
        if (!ReferenceEquals(source, t)) source.Dispose();
        return rounded;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        HandedOverGradients.ReleaseEarlier();
        if (gradOutput.IsInvalid) return [null!, null!, null!]; // the output was not used: no gradient flows back
        // The saved tensors and the output gradient come as new wrappers, ours to free (else the caller's scope keeps
        // every layer's activations until the end of the backward pass).
        var saved = ctx.get_saved_variables();
        using var owned = new DisposeAll([.. saved, gradOutput]);
        using var scope = NewDisposeScope();
        var (input, weight) = (saved[0], saved[1]);
        int columns = (int)weight.size(1), outputs = (int)weight.size(0), rows = (int)(input.numel() / columns);
        var dy = gradOutput.to(ScalarType.Float32).contiguous();
        bool inputGradient = (bool)ctx.get_data("input needs a gradient");
        bool weightGradient = (bool)ctx.get_data("weight needs a gradient");
        if ((bool)ctx.get_data("bf16")) // each operand rounded only for a product that reads it
        {
            dy = RoundedToBf16(dy, 0);
            if (weightGradient) input = RoundedToBf16(input, 1);
            if (inputGradient) weight = RoundedToBf16(weight, 2);
        }
        Tensor? dx = null, dw = null;
        unsafe
        {
            fixed (byte* dyBytes = dy.bytes, wBytes = weight.bytes, xBytes = input.bytes)
            {
                if (inputGradient)
                {
                    dx = HandedOverGradients.HandOver(empty(input.shape, ScalarType.Float32, device: CPU));
                    fixed (byte* dxBytes = dx.bytes)
                        BackwardProduct.Multiply((float*)dyBytes, outputs, 1, (float*)wBytes, (float*)dxBytes, rows, outputs, columns,
                            OutputRowSplit.Threads);
                }
                if (weightGradient)
                {
                    dw = HandedOverGradients.HandOver(empty(weight.shape, ScalarType.Float32, device: CPU));
                    fixed (byte* dwBytes = dw.bytes)
                        BackwardProduct.Multiply((float*)dyBytes, 1, outputs, (float*)xBytes, (float*)dwBytes, outputs, rows, columns,
                            OutputRowSplit.Threads);
                }
            }
        }
        return [dx!, dw!, null!]; // TorchSharp expects one per argument, bf16 included
    }

    static Span<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);
}
