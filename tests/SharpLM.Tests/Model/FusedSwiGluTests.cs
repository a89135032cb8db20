using System.Runtime.Intrinsics;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Tests.Model;

/// <summary>fp32 training's silu(a) * b as one operation against libtorch's silu and product (the unfused path): the output
/// and both gradients for row counts and widths with vector tails and uneven splits, either side frozen; and where it
/// applies.</summary>
public sealed class FusedSwiGluTests
{
    [Theory]
    [InlineData(3, 37, 1, true, true)]
    [InlineData(130, 37, 2, true, true)]
    [InlineData(257, 384, 1, true, true)]
    [InlineData(257, 384, 2, true, true)]
    [InlineData(130, 384, 2, true, false)] // a frozen up projection: da only
    [InlineData(257, 37, 2, false, true)] // a frozen gate projection: db only
    public void OutputAndGradientsMatchLibtorch(int rows, int n, int threads, bool gateGrad, bool upGrad)
    {
        var generator = new Generator(23);
        using var a0 = randn(rows, n, generator: generator) * 3; // far into both tails of the sigmoid
        using var b0 = randn(rows, n, generator: generator);
        using var r = randn(rows, n, generator: generator); // the output gradient
        var (y, da, db) = Run((a, b) => FusedSwiGlu.Apply(a, b, threads), a0, b0, r, gateGrad, upGrad);
        var (yRef, daRef, dbRef) = Run((a, b) => F.silu(a) * b, a0, b0, r, gateGrad, upGrad);
        FusedRmsNormTests.AssertClose(y, yRef, "y");
        Assert.Equal(gateGrad, da is not null);
        Assert.Equal(upGrad, db is not null);
        if (gateGrad) FusedRmsNormTests.AssertClose(da!, daRef!, "da");
        if (upGrad) FusedRmsNormTests.AssertClose(db!, dbRef!, "db");
    }

    [Fact]
    public void GatesBeyondTheRangeOfFp32sExpSaturateAsLibtorchsDo()
    {
        using var a0 = tensor(new[] { -1000f, -100, -89, -88, -87, -20, -1, 0, 1, 20, 87, 88, 89, 100, 1000, -0.5f, 0.5f }, device: CPU);
        using var b0 = ones_like(a0) * 0.5;
        using var r = ones_like(a0);
        var (y, da, db) = Run((a, b) => FusedSwiGlu.Apply(a, b), a0, b0, r, true, true);
        var (yRef, daRef, dbRef) = Run((a, b) => F.silu(a) * b, a0, b0, r, true, true);
        FusedRmsNormTests.AssertClose(y, yRef, "y");
        FusedRmsNormTests.AssertClose(da!, daRef!, "da");
        FusedRmsNormTests.AssertClose(db!, dbRef!, "db");
    }

    [Fact]
    public void OnlyFp32TrainingOnTheCpuTakesTheFusedOperation()
    {
        if (!Vector512.IsHardwareAccelerated) return; // no AVX-512: the gating stays in libtorch
        using var a = randn(4, 8);
        using var tracked = a.clone().requires_grad_(true);
        Assert.True(FusedSwiGlu.Applies(tracked, a));
        Assert.True(FusedSwiGlu.Applies(a, tracked));
        Assert.False(FusedSwiGlu.Applies(a, a)); // nothing to differentiate
        Assert.False(FusedSwiGlu.Applies(tracked, a.narrow(1, 0, 4))); // shapes that only broadcast
        Assert.False(FusedSwiGlu.Applies(tracked.to(bfloat16), a.to(bfloat16))); // bf16 keeps libtorch's path
        using (no_grad())
            Assert.False(FusedSwiGlu.Applies(tracked, tracked)); // inference and decoding
        FusedSwiGlu.Enabled = false;
        try
        {
            Assert.False(FusedSwiGlu.Applies(tracked, tracked));
        }
        finally
        {
            FusedSwiGlu.Enabled = true;
        }
    }

    // y = gating(a, b), then the gradients of sum(y * r).
    static (Tensor Y, Tensor? Da, Tensor? Db) Run(Func<Tensor, Tensor, Tensor> gating, Tensor a0, Tensor b0, Tensor r, bool gateGrad,
        bool upGrad)
    {
        var a = a0.clone().requires_grad_(gateGrad);
        var b = b0.clone().requires_grad_(upGrad);
        var y = gating(a, b);
        (y * r).sum().backward();
        return (y.detach(), a.grad, b.grad);
    }
}
