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
    [InlineData(9, 6, 32, 1)]
    [InlineData(33, 7, 96, 2)]
    [InlineData(70, 130, 160, 2)]
    [InlineData(32, 200, 768, 1)]
    public void APromptsProductIsTheIntegerArithmeticItDescribes(int rows, int outputs, int columns, int threads)
    {
        if (!Q8PromptProduct.Applies(columns)) return; // without AVX-512 BW the fp32 kernel or libtorch takes prompts
        var generator = new Generator((ulong)rows);
        using var weight = randn(outputs, columns, generator: generator) * 0.05;
        using var q8 = Q8Matrix.Quantize(weight);
        using var input = randn(rows, columns, generator: generator);
        input[.., 3] *= 30; // an outlier feature: its blocks get a coarser scale, the others keep theirs
        var x = input.data<float>().ToArray();
        var y = new float[rows * outputs];
        q8.Multiply(x, rows, y, threads);
        Assert.Equal(IntegerReference(q8, x, rows), y);

        // 16-bit activations keep the product within 1e-4 of the fp32 product of the same 8-bit weights.
        using var exact = input.matmul(q8.Dequantize().t());
        float largest = (tensor(y, [rows, outputs]) - exact).abs().max().item<float>() / exact.abs().max().item<float>();
        Assert.True(largest < 1e-4, $"largest difference {largest:E2} of the largest output");
    }

    /// <summary>What <see cref="Q8PromptProduct"/> computes, one value at a time: each 32-value block of a row of x rounded
    /// (to even) to 16-bit integers with the scale max|x| / 32767, the block's integer sum with the 8-bit weights, scaled by
    /// both scales and added to the output's fp32 sum, block after block.</summary>
    static float[] IntegerReference(Q8Matrix q8, float[] x, int rows)
    {
        int columns = q8.Columns, outputs = q8.Rows, blocks = columns / Q8Matrix.BlockSize;
        var values = q8.Stored.Values.data<sbyte>().ToArray();
        var weightScales = q8.Stored.Scales.data<float>().ToArray();
        var y = new float[rows * outputs];
        var xq = new int[columns];
        var rowScales = new float[blocks];
        for (int r = 0; r < rows; r++)
        {
            for (int b = 0; b < blocks; b++)
            {
                var block = x.AsSpan(r * columns + b * 32, 32);
                float max = 0;
                foreach (var v in block) max = MathF.Max(max, MathF.Abs(v));
                rowScales[b] = max / short.MaxValue;
                float inverse = max > 0 ? short.MaxValue / max : 0;
                for (int i = 0; i < 32; i++) xq[b * 32 + i] = (int)MathF.Round(block[i] * inverse);
            }
            for (int o = 0; o < outputs; o++)
            {
                float sum = 0;
                for (int b = 0; b < blocks; b++)
                {
                    int integer = 0;
                    for (int i = b * 32; i < b * 32 + 32; i++) integer += xq[i] * values[o * columns + i];
                    sum = MathF.FusedMultiplyAdd(integer, rowScales[b] * weightScales[o * blocks + b], sum);
                }
                y[r * outputs + o] = sum;
            }
        }
        return y;
    }

    [Fact]
    public void APromptsRowsComeOutTheSameWhateverTheirCountAndTheThreads()
    {
        var generator = new Generator(7);
        using var weight = randn(150, 96, generator: generator) * 0.05;
        using var q8 = Q8Matrix.Quantize(weight);
        if (!q8.TakesRows(70)) return; // without AVX-512 BW libtorch takes prompts
        var x = randn(70, 96, generator: generator).data<float>().ToArray();
        var all = new float[70 * 150];
        q8.Multiply(x, 70, all, threads: 2);
        var first = new float[9 * 150];
        q8.Multiply(x.AsSpan(0, 9 * 96), 9, first, threads: 1);
        Assert.Equal(all.AsSpan(0, 9 * 150).ToArray(), first);
    }

    [Fact]
    public void AProjectionTakesAFewRowsAndAPromptsManyOnTheKernelsWithItsBias()
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
        foreach (var rows in new[] { Q8Matrix.MaxRows, Q8Matrix.MaxRows + 1, 80 })
        {
            using var x = randn(1, rows, 160, generator: generator);
            using var y = projection.forward(x);
            using var exact = nn.functional.linear(x, dequantised, projection.bias);
            float tolerance = rows > Q8Matrix.MaxRows ? 1e-4f * exact.abs().max().item<float>() : 1e-5f;
            Assert.True((y - exact).abs().max().item<float>() <= tolerance, $"{rows} rows");
        }
    }

    [Fact]
    public void AQuantisedModelsLongPromptStaysCloseToItsDequantisedTwin()
    {
        using var model = TestModels.Tiny(seed: 8); // 64 positions
        var prompt = Enumerable.Range(0, 64).Select(i => (i * 7 + 3) % 64).ToArray();
        var full = TestModels.LastLogits(model, prompt);
        model.QuantizeForInference();
        var quantised = TestModels.LastLogits(model, prompt);
        var largest = full.Zip(quantised).Max(p => Math.Abs(p.First - p.Second)) / full.Max(Math.Abs);
        Assert.True(largest < 0.05, $"largest difference {largest:P2} of the largest logit");

        // The prompt's 16-bit activations alone: against the same 8-bit weights in fp32.
        using var twin = TestModels.Tiny(seed: 8);
        using (no_grad())
            foreach (var ((_, q), (_, p)) in model.Projections().Zip(twin.Projections()))
                p.weight.copy_(q.Q8!.Dequantize());
        var dequantised = TestModels.LastLogits(twin, prompt);
        largest = dequantised.Zip(quantised).Max(p => Math.Abs(p.First - p.Second)) / dequantised.Max(Math.Abs);
        Assert.True(largest < 1e-3, $"largest difference {largest:E2} of the largest logit");
    }

    [Fact]
    public void AQuantisedModelStaysCloseToItsWeightsAndDecodesAsItsDequantisedTwin()
    {
        using var model = TestModels.Tiny(seed: 6);
        int[] prompt = [1, 5, 9, 14, 3, 22, 7, 40, 11, 2, 33];
        var full = TestModels.LastLogits(model, prompt);
        Assert.Equal(2 * 7 + 1, model.QuantizeForInference()); // every projection and the untied head (32 and 64 inputs)
        Assert.All(model.Projections(), p => Assert.Equal(0, p.Module.weight.numel()));
        var quantised = TestModels.LastLogits(model, prompt); // 11 rows: a prompt's path
        var scale = full.Max(Math.Abs);
        var largest = full.Zip(quantised).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(largest < 0.05, $"largest difference {largest:P2} of the largest logit");

        // Decoding runs the 8-bit kernel one row at a time; with the prompt's 16-bit activations it still agrees.
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
