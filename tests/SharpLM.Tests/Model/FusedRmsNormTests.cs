using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>fp32 training's RMSNorm as one operation against libtorch's composed steps (the unfused path): the output and
/// both gradients for row counts and widths with vector tails and uneven splits, either side frozen, any leading shape, a
/// strided output gradient; and where it applies.</summary>
public sealed class FusedRmsNormTests
{
    const float Eps = 1e-5f;

    [Theory]
    [InlineData(3, 37, 1, true, true)]
    [InlineData(3, 384, 2, true, true)]
    [InlineData(130, 37, 2, true, true)] // two ranges, the second starting inside a block of the weight's partial sums
    [InlineData(257, 384, 1, true, true)]
    [InlineData(257, 384, 2, true, true)]
    [InlineData(257, 37, 2, true, false)] // a frozen weight (LoRA's base): dx only
    [InlineData(130, 384, 2, false, true)] // an input that needs no gradient: dw only
    public void OutputAndGradientsMatchLibtorch(int rows, int n, int threads, bool inputGrad, bool weightGrad)
    {
        var generator = new Generator(17);
        using var x0 = randn(rows, n, generator: generator);
        using var w0 = randn(n, generator: generator);
        using var r = randn(rows, n, generator: generator); // the output gradient
        var (y, dx, dw) = Run((x, w) => FusedRmsNorm.Apply(x, w, Eps, threads), x0, w0, r, inputGrad, weightGrad);
        var (yRef, dxRef, dwRef) = Run(Composed, x0, w0, r, inputGrad, weightGrad);
        AssertClose(y, yRef, "y");
        Assert.Equal(inputGrad, dx is not null);
        Assert.Equal(weightGrad, dw is not null);
        if (inputGrad) AssertClose(dx!, dxRef!, "dx");
        if (weightGrad) AssertClose(dw!, dwRef!, "dw");
    }

    [Fact]
    public void TheThreadCountChangesNoBit()
    {
        var generator = new Generator(3);
        using var x0 = randn(300, 96, generator: generator);
        using var w0 = randn(96, generator: generator);
        using var r = randn(300, 96, generator: generator);
        var one = Run((x, w) => FusedRmsNorm.Apply(x, w, Eps, 1), x0, w0, r, true, true);
        var two = Run((x, w) => FusedRmsNorm.Apply(x, w, Eps, 2), x0, w0, r, true, true);
        Assert.True(one.Y.eq(two.Y).all().item<bool>() && one.Dx!.eq(two.Dx!).all().item<bool>() && one.Dw!.eq(two.Dw!).all().item<bool>());
    }

    [Fact]
    public void QwenHeadsNormaliseTheirLastDimensionUnderAStridedOutputGradient()
    {
        // q_norm's input [batch, seq, heads, headDim]; the attention transposes its output, so its gradient comes back strided.
        var generator = new Generator(5);
        using var x0 = randn(2, 70, 3, 16, generator: generator);
        using var w0 = randn(16, generator: generator);
        using var r = randn(2, 3, 70, 16, generator: generator);
        Tensor Transposed(Func<Tensor, Tensor, Tensor> norm, Tensor x, Tensor w) => norm(x, w).transpose(1, 2);
        var (y, dx, dw) = Run((x, w) => Transposed((a, b) => FusedRmsNorm.Apply(a, b, Eps), x, w), x0, w0, r, true, true);
        var (yRef, dxRef, dwRef) = Run((x, w) => Transposed(Composed, x, w), x0, w0, r, true, true);
        AssertClose(y, yRef, "y");
        AssertClose(dx!, dxRef!, "dx");
        AssertClose(dw!, dwRef!, "dw");
    }

    [Fact]
    public void OnlyFp32TrainingOnTheCpuTakesTheFusedOperation()
    {
        using var norm = new RmsNorm(8, Eps);
        using var x = randn(4, 8);
        using var tracked = x.clone().requires_grad_(true);
        Assert.True(FusedRmsNorm.Applies(x, norm.weight)); // the weight is a parameter that needs a gradient
        Assert.True(FusedRmsNorm.Applies(tracked, norm.weight.detach()));
        Assert.False(FusedRmsNorm.Applies(x, norm.weight.detach())); // nothing to differentiate
        Assert.False(FusedRmsNorm.Applies(tracked.to(bfloat16), norm.weight)); // bf16 keeps libtorch's path
        using (no_grad())
            Assert.False(FusedRmsNorm.Applies(tracked, norm.weight)); // inference and decoding
        FusedRmsNorm.Enabled = false;
        try
        {
            Assert.False(FusedRmsNorm.Applies(tracked, norm.weight));
        }
        finally
        {
            FusedRmsNorm.Enabled = true;
        }
    }

    /// <summary>RmsNorm's unfused fp32 steps.</summary>
    static Tensor Composed(Tensor x, Tensor w) => w * (x * x.square().mean([-1L], keepdim: true).add(Eps).rsqrt());

    /// <summary>Within 1e-5 of the largest expected value.</summary>
    internal static void AssertClose(Tensor actual, Tensor expected, string name)
    {
        Assert.Equal(expected.shape, actual.shape);
        float difference = (actual - expected).abs().max().item<float>(), scale = expected.abs().max().item<float>();
        Assert.True(difference <= 1e-5 * scale, $"{name} differs by {difference} (largest {scale})");
    }

    // y = norm(x, w), then the gradients of sum(y * r).
    static (Tensor Y, Tensor? Dx, Tensor? Dw) Run(Func<Tensor, Tensor, Tensor> norm, Tensor x0, Tensor w0, Tensor r, bool inputGrad,
        bool weightGrad)
    {
        var x = x0.clone().requires_grad_(inputGrad);
        var w = w0.clone().requires_grad_(weightGrad);
        var y = norm(x, w);
        (y * r).sum().backward();
        return (y.detach(), x.grad, w.grad);
    }
}
