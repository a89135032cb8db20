using System.Runtime.InteropServices;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Tests.Model;

/// <summary>The many-rows kernel (a prompt's prefill, training's forward) against libtorch's matmul: short tiles of rows and
/// outputs, several blocks of inputs and of rows, packed weights from <see cref="PromptProduct.PackedRows"/> rows, and split
/// across threads.</summary>
public sealed class PromptProductTests
{
    [Theory]
    [InlineData(9, 16, 1, 1)]
    [InlineData(37, 48, 13, 2)]
    [InlineData(130, 1040, 70, 2)] // two whole blocks of inputs and a part of one, two blocks of rows
    [InlineData(300, 64, 200, 2)] // packed weights (PromptProduct.PackedRows), 8 outputs past the last whole vector
    [InlineData(262, 528, 600, 2)] // packed: one panel per thread, as deep as the inputs; a short last tile of rows
    [InlineData(262, 1040, 600, 2)] // packed: two blocks of inputs (1,024 and 16), panels of 192 outputs, two per thread
    public void Fp32WeightsGiveLibtorchsProduct(int rows, int columns, int outputs, int threads)
    {
        if (!PromptProduct.Applies(columns)) return; // no AVX-512: Projection sends these rows to libtorch
        var generator = new Generator(11);
        using var x = randn(rows, columns, generator: generator);
        using var w = randn(outputs, columns, generator: generator);
        var y = Multiply(x, w, threads);
        using var expected = x.matmul(w.t());
        Assert.True(tensor(y, [rows, outputs]).allclose(expected, rtol: 1e-5, atol: 1e-4));
        // Each output is one thread's, summed in the same order whatever the split: the same bits on one thread.
        Assert.Equal(Multiply(x, w, 1), y);
    }

    static float[] Multiply(Tensor x, Tensor w, int threads)
    {
        var y = new float[x.shape[0] * w.shape[0]];
        PromptProduct.Multiply(w, MemoryMarshal.Cast<byte, float>(x.bytes), (int)x.shape[0], y, threads);
        return y;
    }

    [Fact]
    public void AProjectionWithABiasSendsAPromptThroughTheKernelWithoutAGradient()
    {
        using var projection = new Projection(64, 40, hasBias: true);
        var generator = new Generator(2);
        using (no_grad())
        {
            projection.weight.normal_(0, 0.1, generator);
            projection.bias!.normal_(0, 0.1, generator);
        }
        using var x = randn(3, 7, 64, generator: generator);
        using var expected = F.linear(x, projection.weight, projection.bias);
        using (no_grad())
        {
            using var y = projection.forward(x);
            Assert.Equal(new long[] { 3, 7, 40 }, y.shape);
            Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-5));
        }
        // With a gradient wanted, libtorch computes it.
        using var trained = projection.forward(x);
        Assert.True(trained.requires_grad);
        Assert.True(trained.allclose(expected, rtol: 1e-6, atol: 1e-6));
    }
}
