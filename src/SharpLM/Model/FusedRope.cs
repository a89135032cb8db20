using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// The rotary embedding <c>y = x cos + rotate_half(x) sin</c> (<see cref="RotaryEmbedding.Apply"/>) as one autograd operation
/// for fp32 training on the CPU. With halves x = [x1, x2] and s = [s1, s2], rotate_half(x) = [-x2, x1], so
/// <c>y = x cos + [x2, x1] [-s1, s2]</c> and backward <c>dx = dy cos + [dy2, dy1] [s2, -s1]</c>: one pass over each head's
/// row in both directions, where libtorch's composed steps (negate, concatenate, two products, an add, and the backward of
/// each) make about ten passes over q and k. Each value is rounded as libtorch's steps round it (forward: the product and
/// the sum fused, as its addcmul does; backward: two rounded products added, as autograd sums them), so the output and the
/// gradient are the same bit for bit.
/// q and k arrive as [batch, seq, heads, d] transposed to [batch, heads, seq, d] (<see cref="Attention"/>); the output and
/// the gradient are laid out so too (as libtorch's element-wise steps would lay them out), whatever the input's layout.
/// </summary>
sealed class FusedRope : autograd.SingleTensorFunction<FusedRope>
{
    public override string Name => "SharpLMRope";

    [ThreadStatic] static bool disabled;

    /// <summary>False leaves the rotation to libtorch's composed steps on this thread: for tests and benchmarks that compare
    /// the two.</summary>
    internal static bool Enabled
    {
        get => !disabled;
        set => disabled = !value;
    }

    /// <summary>Whether this is training's case: fp32 x [batch, heads, seq, d] on the CPU with a gradient wanted, d even, and
    /// fp32 cos and sin [1 or batch, 1, seq, d] (<see cref="RotaryEmbedding.ForRange"/>, <see cref="RotaryEmbedding.ForPositions"/>)
    /// that need none.</summary>
    public static bool Applies(Tensor x, Tensor cos, Tensor sin) =>
        Enabled && is_grad_enabled() && x.requires_grad && !cos.requires_grad && !sin.requires_grad
        && x.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU && x.dim() == 4 && x.size(3) % 2 == 0 && x.numel() > 0
        && new[] { cos, sin }.All(t => t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.dim() == 4
            && (t.size(0) == 1 || t.size(0) == x.size(0)) && t.size(1) == 1 && t.size(2) == x.size(2) && t.size(3) == x.size(3))
        && cos.size(0) == sin.size(0);

    /// <summary>x rotated by the angles whose cos and sin are given (<see cref="Applies"/> must hold).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => OutputCache.Free(apply(x, cos, sin));

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, cos, sin) = ((Tensor)vars[0], ((Tensor)vars[1]).contiguous(), ((Tensor)vars[2]).contiguous());
        OutputCache.Skip(ctx);
        ctx.save_for_backward([cos, sin]);
        return Rotate(x, cos, sin, backward: false);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        HandedOverGradients.ReleaseEarlier();
        if (gradOutput.IsInvalid) return [null!, null!, null!]; // the output was not used: no gradient flows back
        var saved = ctx.get_saved_variables();
        using var owned = new DisposeAll([.. saved, gradOutput]);
        return [HandedOverGradients.HandOver(Rotate(gradOutput, saved[0], saved[1], backward: true)), null!, null!];
    }

    /// <summary>Forward's y for x, or backward's dx for dy, as a new tensor shaped like <paramref name="input"/> with its
    /// values in [batch, seq, heads, d] order.</summary>
    static unsafe Tensor Rotate(Tensor input, Tensor cos, Tensor sin, bool backward)
    {
        using var scope = NewDisposeScope();
        long batch = input.size(0), heads = input.size(1), seq = input.size(2);
        int d = (int)input.size(3), half = d / 2;
        var rows = input.to(ScalarType.Float32).transpose(1, 2).contiguous(); // [batch, seq, heads, d]; no copy for q and k
        var output = empty([batch, seq, heads, d], ScalarType.Float32, device: CPU);
        bool perRow = cos.size(0) > 1;
        fixed (byte* inBytes = rows.bytes, outBytes = output.bytes, cosBytes = cos.bytes, sinBytes = sin.bytes)
        {
            var (inAt, outAt, cosAt, sinAt) = ((nint)inBytes, (nint)outBytes, (nint)cosBytes, (nint)sinBytes);
            OutputRowSplit.Run((int)(batch * seq), OutputRowSplit.Threads, (first, end) =>
            {
                // The sin of each half with the sign its partner takes: forward [-s1, s2], backward [s2, -s1].
                var signedSin = new float[d];
                for (int position = first; position < end; position++)
                {
                    long table = (perRow ? position : position % seq) * d;
                    var c = new ReadOnlySpan<float>((float*)cosAt + table, d);
                    var s = new ReadOnlySpan<float>((float*)sinAt + table, d);
                    if (backward)
                    {
                        s[half..].CopyTo(signedSin);
                        TensorPrimitives.Negate(s[..half], signedSin.AsSpan(half));
                    }
                    else
                    {
                        TensorPrimitives.Negate(s[..half], signedSin);
                        s[half..].CopyTo(signedSin.AsSpan(half));
                    }
                    for (long h = 0; h < heads; h++)
                    {
                        long at = (position * heads + h) * d;
                        var x = new ReadOnlySpan<float>((float*)inAt + at, d);
                        var y = new Span<float>((float*)outAt + at, d);
                        TensorPrimitives.Multiply(x, c, y);
                        RotatedTerm(x[half..], signedSin.AsSpan(0, half), y[..half], backward);
                        RotatedTerm(x[..half], signedSin.AsSpan(half), y[half..], backward);
                    }
                }
            });
        }
        return output.transpose(1, 2).MoveToOuterDisposeScope();
    }

    /// <summary>y += x s, rounded as libtorch rounds it: forward's addcmul fuses the product and the sum; backward adds two
    /// rounded products (autograd's sum of the gradients of the two uses of x).</summary>
    static void RotatedTerm(ReadOnlySpan<float> x, ReadOnlySpan<float> s, Span<float> y, bool backward)
    {
        if (backward) TensorPrimitives.MultiplyAdd(x, s, y, y);
        else TensorPrimitives.FusedMultiplyAdd(x, s, y, y);
    }
}
