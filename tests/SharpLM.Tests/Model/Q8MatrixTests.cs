using System.Runtime.InteropServices;
using SharpLM.Generation;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

public sealed class Q8MatrixTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(8, 2)]
    public void TheKernelComputesXTimesTheDequantisedWeight(int rows, int threads)
    {
        var generator = new Generator(3);
        using var weight = randn(96, 160, generator: generator) * 0.05;
        using var q8 = Q8Matrix.Quantize(weight);
        using var dequantised = q8.Dequantize();
        // Each value is within half a step (max|w| / 127 of its block / 2) of the original.
        using var error = (dequantised - weight).abs().view(96, 5, 32).amax([-1L]);
        using var step = weight.abs().view(96, 5, 32).amax([-1L]) / 127;
        Assert.True((error <= step / 2 + 1e-7).all().item<bool>());

        var x = randn(rows, 160, generator: generator).data<float>().ToArray();
        var y = new float[rows * 96];
        q8.Multiply(x, rows, y, threads);
        using var expected = tensor(x, [rows, 160]).matmul(dequantised.t());
        Assert.True(tensor(y, [rows, 96]).allclose(expected, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void AQuantisedModelStaysCloseToItsWeightsAndDecodesAsItsDequantisedTwin()
    {
        using var model = TestModels.Tiny(seed: 6);
        int[] prompt = [1, 5, 9, 14, 3, 22, 7, 40, 11, 2, 33];
        var full = TestModels.LastLogits(model, prompt);
        Assert.Equal(2 * 7 + 1, model.QuantizeForInference()); // every projection and the untied head (32 and 64 inputs)
        Assert.All(model.Projections(), p => Assert.Equal(0, p.Module.weight.numel()));
        var quantised = TestModels.LastLogits(model, prompt); // 11 rows: the prefill path (dequantised weight, libtorch)
        var scale = full.Max(Math.Abs);
        var largest = full.Zip(quantised).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(largest < 0.05, $"largest difference {largest:P2} of the largest logit");

        // Decoding runs the 8-bit kernel one row at a time; it must agree with the prompt path's arithmetic.
        using var twin = TestModels.Tiny(seed: 6);
        using (no_grad())
            foreach (var ((_, q), (_, p)) in model.Projections().Zip(twin.Projections()))
                p.weight.copy_(q.Q8!.Dequantize());
        var options = SamplingOptions.Greedy with { MaxNewTokens = 20, StopAtEos = false };
        var decoded = new TokenGenerator(model).Generate(prompt, options, new HashSet<int>()).ToArray();
        Assert.Equal(new TokenGenerator(twin).Generate(prompt, options, new HashSet<int>()).ToArray(), decoded);
    }

    [Fact]
    public void AProjectionWithAnAdapterOrAnOddShapeIsRefusedClearly()
    {
        using var odd = zeros(4, 33);
        Assert.False(Q8Matrix.Fits(odd));
        Assert.Contains("multiple of 32", Assert.Throws<SharpLMException>(() => Q8Matrix.Quantize(odd)).Message);
        using var model = TestModels.Tiny();
        SharpLM.Adapters.Lora.Apply(model, new SharpLM.Adapters.LoraOptions(), seed: 1);
        var error = Assert.Throws<SharpLMException>(() => model.QuantizeForInference());
        Assert.Contains("merge the adapter first", error.Message);
    }
}
