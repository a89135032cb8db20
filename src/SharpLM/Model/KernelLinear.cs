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
    /// The rounded operands go into buffers each thread keeps (<see cref="Bf16Operands"/>): x is saved for backward as it came,
    /// and rounded again there, unless its producer rounded it already (<see cref="Bf16Operands.IsRounded"/>).</summary>
    public static Tensor Apply(Tensor x, Tensor weight, bool bf16 = false) =>
        OutputCache.Free(apply(x, weight, bf16, bf16 && Bf16Operands.IsRounded(x)));

    /// <summary>Whether this CPU can multiply <paramref name="rows"/> rows of fp32 <paramref name="x"/> by this weight.</summary>
    public static bool Applies(Tensor x, Tensor weight, long rows) =>
        x.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32 && weight.device_type == DeviceType.CPU
        && x.device_type == DeviceType.CPU && weight.is_contiguous() && rows > DenseProduct.MaxRows
        && PromptProduct.Applies(weight.size(1));

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, weight, bf16, inputRounded) = ((Tensor)vars[0], (Tensor)vars[1], (bool)vars[2], (bool)vars[3]);
        OutputCache.Skip(ctx);
        int columns = (int)weight.size(1), outputs = (int)weight.size(0), rows = (int)(x.numel() / columns);
        var input = x.contiguous();
        ctx.save_for_backward([input, weight]);
        ctx.save_data("input needs a gradient", x.requires_grad);
        ctx.save_data("weight needs a gradient", weight.requires_grad);
        ctx.save_data("bf16", bf16);
        ctx.save_data("input rounded", inputRounded);
        var y = empty(Projection.ShapeWithLast(x, outputs), ScalarType.Float32, device: CPU);
        Tensor? roundedInput = bf16 && !inputRounded ? Bf16Operands.Rounded(input, 0) : null;
        Tensor? roundedWeight = bf16 ? Bf16Operands.Rounded(weight, 1) : null;
        using var rounded = new DisposeAll([.. new[] { roundedInput, roundedWeight }.OfType<Tensor>()]);
        PromptProduct.Multiply(roundedWeight ?? weight, Floats(roundedInput ?? input), rows, Floats(y), OutputRowSplit.Threads);
        return y;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        HandedOverGradients.ReleaseEarlier();
        if (gradOutput.IsInvalid) return [null!, null!, null!, null!]; // the output was not used: no gradient flows back
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
            dy = Bf16Operands.Rounded(dy, 0);
            if (weightGradient && !(bool)ctx.get_data("input rounded")) input = Bf16Operands.Rounded(input, 1);
            if (inputGradient) weight = Bf16Operands.Rounded(weight, 2);
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
        return [dx!, dw!, null!, null!]; // TorchSharp expects one per argument, the flags included
    }

    static Span<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);
}
