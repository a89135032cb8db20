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

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TheBf16FormIsLibtorchsRoundingOfTheDequantisedWeight(int threads)
    {
        using var weight = randn(130, 96, generator: new Generator(4)) * 0.05; // two unequal halves of rows on 2 threads
        using var q8 = Q8Matrix.Quantize(weight);
        using var bf16 = q8.DequantizeBf16(threads);
        using var expected = q8.Dequantize().to(ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, bf16.dtype);
        Assert.True(bf16.eq(expected).all().item<bool>());
    }

    [Fact]
    public void ALongPromptMultipliesInBf16WhereTheCpuHasBf16ProductsAndAShortOneOnTheKernel()
    {
        var generator = new Generator(5);
        using var projection = new Projection(160, 96, hasBias: true);
        using (no_grad())
        {
            projection.weight.copy_(randn(96, 160, generator: generator) * 0.05);
            projection.bias!.copy_(randn(96, generator: generator));
        }
        projection.QuantizeForInference();
        using var dequantised = projection.Q8!.Dequantize();
        using var noGrad = no_grad();
        foreach (var rows in new[] { Q8Matrix.Bf16Rows - 1, Q8Matrix.Bf16Rows, 80 })
        {
            using var x = randn(1, rows, 160, generator: generator);
            using var y = projection.forward(x);
            using var exact = nn.functional.linear(x, dequantised, projection.bias);
            if (Q8Matrix.MultipliesInBf16(rows))
            {
                // libtorch's bf16 product of the rounded input and weight, widened, plus the bias in fp32 ...
                using var expected = nn.functional.linear(x.to(ScalarType.BFloat16), dequantised.to(ScalarType.BFloat16)).to(float32)
                                     + projection.bias;
                Assert.True(y.eq(expected).all().item<bool>(), $"{rows} rows");
                // ... which stays within bf16's rounding of the fp32 product.
                Assert.True((y - exact).abs().max().item<float>() <= 0.01f * exact.abs().max().item<float>(), $"{rows} rows");
            }
            else Assert.True(y.allclose(exact, rtol: 1e-4, atol: 1e-4), $"{rows} rows");
        }
        Assert.False(Q8Matrix.MultipliesInBf16(Q8Matrix.Bf16Rows - 1));
    }

    [Fact]
    public void AQuantisedModelsLongPromptStaysCloseToItsWeights()
    {
        using var model = TestModels.Tiny(seed: 8); // 64 positions: a prompt of Bf16Rows tokens fills them
        var prompt = Enumerable.Range(0, Q8Matrix.Bf16Rows).Select(i => (i * 7 + 3) % 64).ToArray();
        var full = TestModels.LastLogits(model, prompt);
        model.QuantizeForInference();
        var quantised = TestModels.LastLogits(model, prompt);
        var largest = full.Zip(quantised).Max(p => Math.Abs(p.First - p.Second)) / full.Max(Math.Abs);
        Assert.True(largest < 0.05, $"largest difference {largest:P2} of the largest logit");
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
