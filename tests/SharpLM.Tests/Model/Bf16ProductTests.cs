using TorchSharp;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

public sealed class Bf16ProductTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 2)]
    [InlineData(8, 2)]
    public void ItComputesXTimesTheWeightInFp32Arithmetic(int rows, int threads)
    {
        if (!DenseProduct.Runs) return; // the fp32 and bf16 decode kernels need AVX2 and FMA
        var generator = new Generator(4);
        using var weight = (randn(200, 72, generator: generator) * 0.1).to(ScalarType.BFloat16);
        Assert.True(Bf16Product.Applies(weight, rows));
        var x = randn(rows, 72, generator: generator).data<float>().ToArray();
        var y = new float[rows * 200];
        Bf16Product.Multiply(weight, x, rows, y, threads);
        using var expected = tensor(x, [rows, 72]).matmul(weight.to(ScalarType.Float32).t());
        Assert.True(tensor(y, [rows, 200]).allclose(expected, rtol: 1e-5, atol: 1e-6));
        Assert.False(Bf16Product.Applies(weight, 9));
        Assert.False(Bf16Product.Applies(weight.to(ScalarType.Float32), 1));
    }

    [Fact]
    public void ABf16ModelDecodesWithTheKernelAsItsPromptPathComputes()
    {
        using var model = TestModels.Tiny(seed: 8);
        model.to(ScalarType.BFloat16);
        int[] prompt = [3, 9, 27, 17, 51, 25, 11, 33, 20, 2, 6, 18];
        // The last position's logits from the whole prompt (12 rows: libtorch) and from one token after the rest (the kernel).
        using var noGrad = no_grad();
        using var all = model.forward(tensor(prompt.Select(i => (long)i).ToArray()).view(1, -1));
        var whole = all[0, -1].to(ScalarType.Float32).data<float>().ToArray();
        using var cache = new KvCache(model.Config, 1, 16, ScalarType.BFloat16);
        model.forward(tensor(prompt[..^1].Select(i => (long)i).ToArray()).view(1, -1), new ForwardOptions { Cache = cache }).Dispose();
        using var step = model.forward(tensor(new long[] { prompt[^1] }).view(1, 1), new ForwardOptions { Cache = cache });
        var stepped = step[0, -1].to(ScalarType.Float32).data<float>().ToArray();
        var scale = whole.Max(Math.Abs);
        Assert.True(whole.Zip(stepped).Max(p => Math.Abs(p.First - p.Second)) < 0.05 * scale);
        Assert.Equal(SharpLM.Generation.TokenSampler.ArgMax(whole), SharpLM.Generation.TokenSampler.ArgMax(stepped));
    }
}
