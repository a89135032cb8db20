using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>fp32 training's rotary embedding as one operation against libtorch's composed steps (the unfused path): the
/// output and the input's gradient, bit for bit, for q and k laid out as the attention lays them out and for contiguous
/// ones, positions shared by the batch or per row; and where it applies.</summary>
public sealed class FusedRopeTests
{
    [Theory]
    [InlineData(2, 37, 3, 16, false, true)]
    [InlineData(3, 70, 4, 64, false, true)] // rows split over both threads
    [InlineData(2, 33, 2, 32, true, true)] // position ids per row (packed examples, left padding)
    [InlineData(1, 20, 6, 48, false, false)] // a contiguous [batch, heads, seq, d] input
    public void OutputAndGradientEqualLibtorchs(int batch, int seq, int heads, int d, bool perRow, bool asAttentionLaysItOut)
    {
        var generator = new Generator(31);
        using var rope = new RotaryEmbedding(d, 128, 10_000);
        using var positions = randint(128, [batch, seq], generator: generator);
        var (cos, sin) = perRow ? rope.ForPositions(positions) : rope.ForRange(5, seq);
        using var x0 = asAttentionLaysItOut
            ? randn(batch, seq, heads, d, generator: generator).transpose(1, 2) // q.view(b, t, h, d).transpose(1, 2)
            : randn(batch, heads, seq, d, generator: generator);
        using var r = randn(batch, heads, seq, d, generator: generator); // the output gradient
        var (y, dx) = Run(x0, cos, sin, r);
        FusedRope.Enabled = false;
        Tensor yRef, dxRef;
        try
        {
            (yRef, dxRef) = Run(x0, cos, sin, r);
        }
        finally
        {
            FusedRope.Enabled = true;
        }
        Assert.True(y.eq(yRef).all().item<bool>(), $"y differs by {(y - yRef).abs().max().item<float>()}");
        Assert.True(dx.eq(dxRef).all().item<bool>(), $"dx differs by {(dx - dxRef).abs().max().item<float>()}");
        Assert.Equal([seq * heads * d, d, heads * d, 1], y.stride()); // [batch, seq, heads, d] in memory
    }

    [Fact]
    public void OnlyFp32TrainingOnTheCpuTakesTheFusedOperation()
    {
        using var rope = new RotaryEmbedding(8, 16, 10_000);
        var (cos, sin) = rope.ForRange(0, 4);
        using var x = randn(2, 3, 4, 8);
        using var tracked = x.clone().requires_grad_(true);
        Assert.True(FusedRope.Applies(tracked, cos, sin));
        Assert.False(FusedRope.Applies(x, cos, sin)); // nothing to differentiate
        Assert.False(FusedRope.Applies(tracked.to(bfloat16), cos, sin)); // bf16 keeps libtorch's path
        Assert.False(FusedRope.Applies(tracked.narrow(2, 0, 3), cos, sin)); // cos and sin for other positions
        using (no_grad())
            Assert.False(FusedRope.Applies(tracked, cos, sin)); // inference and decoding
        FusedRope.Enabled = false;
        try
        {
            Assert.False(FusedRope.Applies(tracked, cos, sin));
        }
        finally
        {
            FusedRope.Enabled = true;
        }
    }

    // y = rope(x), then the gradient of sum(y * r).
    static (Tensor Y, Tensor Dx) Run(Tensor x0, Tensor cos, Tensor sin, Tensor r)
    {
        var x = x0.detach().requires_grad_(true);
        var y = RotaryEmbedding.Apply(x, cos, sin);
        (y * r).sum().backward();
        return (y.detach(), x.grad!);
    }
}
