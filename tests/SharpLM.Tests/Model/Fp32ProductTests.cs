using TorchSharp;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

public sealed class Fp32ProductTests
{
    [Theory]
    [InlineData(1, 1, 72)] // 72 columns: four pairs of 8 and one 8 left over
    [InlineData(3, 2, 64)]
    [InlineData(8, 2, 72)]
    [InlineData(1, 4, 384)]
    public void ItComputesXTimesTheWeight(int rows, int threads, int columns)
    {
        if (!DenseProduct.Runs) return; // the fp32 and bf16 decode kernels need AVX2 and FMA
        var generator = new Generator(4);
        using var weight = randn(300, columns, generator: generator) * 0.1;
        Assert.True(Fp32Product.Applies(weight, rows));
        var x = randn(rows, columns, generator: generator).data<float>().ToArray();
        var y = new float[rows * 300];
        Fp32Product.Multiply(weight, x, rows, y, threads);
        using var expected = tensor(x, [rows, columns]).matmul(weight.t());
        Assert.True(tensor(y, [rows, 300]).allclose(expected, rtol: 1e-5, atol: 1e-5));
        Assert.False(Fp32Product.Applies(weight, 9));
        Assert.False(Fp32Product.Applies(weight.to(ScalarType.BFloat16), 1));
        Assert.False(Fp32Product.Applies(randn(10, 12), 1)); // columns not a multiple of 8
    }

    [Fact]
    public void ProductsSplitFromSeveralThreadsAtOnceAreAllRight()
    {
        if (!DenseProduct.Runs) return; // the fp32 and bf16 decode kernels need AVX2 and FMA
        // One caller gets the spinning workers; the others find them busy and split on the thread pool instead.
        using var weight = randn(512, 64, generator: new Generator(5));
        var x = randn(1, 64, generator: new Generator(6)).data<float>().ToArray();
        using var expected = tensor(x, [1, 64]).matmul(weight.t());
        var want = expected.data<float>().ToArray();
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 50; i++)
            {
                var y = new float[512];
                Fp32Product.Multiply(weight, x, 1, y, 2);
                for (int o = 0; o < 512; o++) Assert.True(Math.Abs(y[o] - want[o]) <= 1e-4f * (1 + Math.Abs(want[o])));
            }
        });
    }

    [Fact]
    public void AModelDecodesWithTheKernelAsItsPromptPathComputesAndTrainingStillGetsGradients()
    {
        using var model = TestModels.Tiny(seed: 8);
        int[] prompt = [3, 9, 27, 17, 51, 25, 11, 33, 20, 2, 6, 18];
        using (no_grad())
        {
            using var all = model.forward(tensor(prompt.Select(i => (long)i).ToArray()).view(1, -1));
            var whole = all[0, -1].data<float>().ToArray();
            using var cache = new KvCache(model.Config, 1, 16);
            model.forward(tensor(prompt[..^1].Select(i => (long)i).ToArray()).view(1, -1), new ForwardOptions { Cache = cache }).Dispose();
            using var step = model.forward(tensor(new long[] { prompt[^1] }).view(1, 1), new ForwardOptions { Cache = cache });
            var stepped = step[0, -1].data<float>().ToArray();
            Assert.True(whole.Zip(stepped).Max(p => Math.Abs(p.First - p.Second)) < 1e-4 * whole.Max(Math.Abs));
        }
        // A forward of few rows whose input needs no gradient (frozen embeddings) still gives the weights theirs.
        model.model.embed_tokens.weight!.requires_grad = false;
        model.forward(tensor(new long[] { 3, 9 }).view(1, 2)).sum().backward();
        Assert.NotNull(model.model.layers[0].self_attn.q_proj.weight.grad);
    }
}
