using System.Reflection;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Tests.Model;

/// <summary>Training's products on SharpLM's kernels against libtorch's: the output and both gradients, with either side
/// frozen, for shapes with short tiles and several blocks of depth.</summary>
public sealed class KernelLinearTests
{
    [Theory]
    [InlineData(2, 37, 48, 13, true, true)]
    [InlineData(1, 300, 1040, 70, true, true)] // five blocks of depth in dW, three in the forward product
    [InlineData(3, 20, 64, 200, true, false)] // a frozen weight (LoRA's base): dX only
    [InlineData(4, 50, 32, 9, false, true)] // an input that needs no gradient (the first layer): dW only
    public void OutputAndGradientsMatchLibtorch(int batch, int seq, int columns, int outputs, bool inputGrad, bool weightGrad)
    {
        var generator = new Generator(7);
        using var x0 = randn(batch, seq, columns, generator: generator);
        using var w0 = randn(outputs, columns, generator: generator);
        using var r = randn(batch, seq, outputs, generator: generator);
        if (!KernelLinear.Applies(x0, w0, batch * seq)) return; // no AVX-512: Projection leaves training to libtorch
        var (y, dx, dw) = Run((x, w) => KernelLinear.Apply(x, w), x0, w0, r, inputGrad, weightGrad);
        var (yRef, dxRef, dwRef) = Run((x, w) => F.linear(x, w), x0, w0, r, inputGrad, weightGrad);
        Assert.True(y.allclose(yRef, rtol: 1e-5, atol: 1e-4));
        Assert.Equal(inputGrad, dx is not null);
        Assert.Equal(weightGrad, dw is not null);
        if (inputGrad) Assert.True(dx!.allclose(dxRef!, rtol: 1e-5, atol: 1e-4));
        if (weightGrad) Assert.True(dw!.allclose(dwRef!, rtol: 1e-5, atol: 1e-3));
    }

    /// <summary>bf16 on the kernels is fp32 products of operands rounded to bf16 (libtorch's rounding), forward and backward,
    /// with fp32 outputs: checked against libtorch's fp32 matmuls over the rounded operands, to fp32's accuracy.</summary>
    [Theory]
    [InlineData(2, 37, 48, 13, true, true)]
    [InlineData(1, 300, 1040, 70, true, true)]
    [InlineData(3, 20, 64, 200, true, false)]
    [InlineData(4, 50, 32, 9, false, true)]
    public void Bf16OnTheKernelsMultipliesOperandsRoundedToBf16(int batch, int seq, int columns, int outputs, bool inputGrad, bool weightGrad)
    {
        var generator = new Generator(8);
        using var x0 = randn(batch, seq, columns, generator: generator);
        using var w0 = randn(outputs, columns, generator: generator);
        using var r = randn(batch, seq, outputs, generator: generator);
        if (!KernelLinear.Applies(x0, w0, batch * seq)) return;
        var (y, dx, dw) = Run((x, w) => KernelLinear.Apply(x, w, bf16: true), x0, w0, r, inputGrad, weightGrad);
        static Tensor Rounded(Tensor t) => t.to(ScalarType.BFloat16).to(ScalarType.Float32);
        using var xr = Rounded(x0);
        using var wr = Rounded(w0);
        using var rr = Rounded(r);
        Assert.True(y.allclose(F.linear(xr, wr), rtol: 1e-5, atol: 1e-4));
        if (inputGrad) Assert.True(dx!.allclose(rr.matmul(wr), rtol: 1e-5, atol: 1e-4));
        if (weightGrad) Assert.True(dw!.allclose(rr.reshape(-1, outputs).t().matmul(xr.reshape(-1, columns)), rtol: 1e-5, atol: 1e-3));
        // and not what fp32 operands give: the rounding is there
        Assert.False(y.allclose(F.linear(x0, w0), rtol: 1e-5, atol: 1e-4));
    }

    // y = product(x), then the gradients of sum(y * r).
    static (Tensor Y, Tensor? Dx, Tensor? Dw) Run(Func<Tensor, Tensor, Tensor> product, Tensor x0, Tensor w0, Tensor r, bool inputGrad,
        bool weightGrad)
    {
        var x = x0.clone().requires_grad_(inputGrad);
        var w = w0.clone().requires_grad_(weightGrad);
        var y = product(x, w);
        (y * r).sum().backward();
        return (y.detach(), x.grad, w.grad);
    }

    [Fact]
    public void AProjectionTrainsOnTheKernelAndItsBiasThroughLibtorch()
    {
        using var projection = new Projection(64, 40, hasBias: true);
        using var twin = new Projection(64, 40, hasBias: true);
        var generator = new Generator(3);
        using (no_grad())
        {
            projection.weight.normal_(0, 0.1, generator);
            projection.bias!.normal_(0, 0.1, generator);
            twin.weight.copy_(projection.weight);
            twin.bias!.copy_(projection.bias);
        }
        using var x = randn(2, 9, 64, generator: generator);
        projection.forward(x).square().sum().backward();
        F.linear(x, twin.weight, twin.bias).square().sum().backward();
        Assert.True(projection.weight.grad!.allclose(twin.weight.grad!, rtol: 1e-5, atol: 1e-4));
        Assert.True(projection.bias.grad!.allclose(twin.bias.grad!, rtol: 1e-5, atol: 1e-4));
    }

    [Fact]
    public void TorchSharpStillHasTheOutputCacheThatTheOperationFrees()
    {
        // OutputCache.Free reaches two private fields; a TorchSharp that renames them would keep an extra copy
        // of every projection's output for the whole backward pass without any other sign.
        const BindingFlags Private = BindingFlags.NonPublic | BindingFlags.Instance;
        Assert.NotNull(typeof(TorchSharp.torch.autograd.AutogradContext).GetField("_node", Private));
        var node = typeof(TorchSharp.torch).Assembly.GetTypes().Single(t => t.Name == "Node`1");
        Assert.NotNull(node.GetField("_outputCache", Private));
        Assert.False(OutputCache.Free((TorchSharp.torch.autograd.AutogradContext?)null));
    }
}
