using SharpLM.Training;
using Parameter = TorchSharp.Modules.Parameter;
using AdamW = SharpLM.Training.AdamW;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Training;

public sealed class GradientClippingTests
{
    /// <summary>Sizes around the vectors' width and the blocks of 16,384 values the threads share, a strided view and a
    /// bf16 tensor (both through libtorch): the sum of squares libtorch gives in double.</summary>
    [Fact]
    public void SumOfSquaresIsLibtorchsInDouble()
    {
        var generator = new Generator(5);
        var gradients = new[] { 1, 15, 16, 17, 16_384, 40_001 }.Select(n => randn(n, generator: generator) * 3).ToList();
        gradients.Add(randn([30, 50], generator: generator).t()); // not contiguous
        gradients.Add(randn(33, generator: generator).to(ScalarType.BFloat16));
        double expected = gradients.Sum(g => g.to(float64).square().sum().item<double>());
        double sum = GradientClipping.SumOfSquares(gradients);
        Assert.Equal(expected, sum, expected * 1e-12);
        Assert.Equal(sum, GradientClipping.SumOfSquares(gradients)); // the same blocks added in the same order every time
    }

    [Theory]
    [InlineData(0.5, 1.0, 1f)] // below the limit: not clipped
    [InlineData(4.0, 1.0, (float)(1 / (4 + 1e-6)))]
    [InlineData(1e30, double.PositiveInfinity, 1f)] // no limit
    public void FactorIsClipGradNormsCoefficient(double norm, double maxNorm, float expected) =>
        Assert.Equal(expected, GradientClipping.Factor(norm, maxNorm));

    /// <summary>The norm and factor clip as libtorch's <c>clip_grad_norm_</c> does: its norm, and its gradients equal to the
    /// gradients times the factor.</summary>
    [Fact]
    public void ClipsAsClipGradNorm()
    {
        var generator = new Generator(6);
        var parameters = new[] { 300, 7, 5_000 }.Select(n => new Parameter(zeros(n))).ToList();
        foreach (var p in parameters) p.grad = randn(p.shape, generator: generator);
        var gradients = parameters.Select(p => p.grad!.clone()).ToList();
        double norm = GradientClipping.Norm(parameters);
        float factor = GradientClipping.Factor(norm, 2.0);
        double libtorchNorm = nn.utils.clip_grad_norm_(parameters, 2.0, 2.0);
        Assert.Equal(libtorchNorm, norm, libtorchNorm * 1e-6);
        Assert.True(factor < 0.1f);
        foreach (var (p, g) in parameters.Zip(gradients))
            Assert.True(allclose(p.grad!, g * factor, rtol: 1e-6, atol: 0));
    }

    /// <summary>AdamW's update with a gradient factor equals multiplying the gradients first and then updating, bit for bit:
    /// fp32 parameters in its one pass, bf16 ones in libtorch's operations.</summary>
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void UpdateWithFactorEqualsScaledGradients(ScalarType dtype)
    {
        var generator = new Generator(7);
        var init = randn([37, 29], generator: generator).to(dtype);
        var (scaled, factored) = (new Parameter(init.clone()), new Parameter(init.clone()));
        using var first = new AdamW([new("w", scaled, true)], new AdamW.Options());
        using var second = new AdamW([new("w", factored, true)], new AdamW.Options());
        const float factor = 0.37f;
        for (int step = 0; step < 3; step++)
        {
            var gradient = randn([37, 29], generator: generator).to(dtype);
            scaled.grad = gradient * factor;
            factored.grad = gradient.clone();
            first.Update(0.01);
            second.Update(0.01, factor);
        }
        Assert.True(scaled.eq(factored).all().item<bool>());
        Assert.False(scaled.eq(init).all().item<bool>()); // the updates did change the weights
    }
}
