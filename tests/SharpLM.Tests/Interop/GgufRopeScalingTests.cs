using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Tokenization;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace SharpLM.Tests.Interop;

/// <summary>llama.cpp computes the same positions as SharpLM for models with RoPE scaling exported as GGUF.</summary>
[Collection(LlamaCppCollection.Name)]
public sealed class GgufRopeScalingTests(ITestOutputHelper output)
{
    // head_dim 16 and theta 10,000 give wavelengths 6, 20, 63, 199, 628, 1987, 6283, 19869: with these llama3
    // settings three are kept, two blended and three divided.
    [Theory]
    [InlineData(
        """{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 16.0, "original_max_position_embeddings": 1024}""")]
    [InlineData("""{"type": "linear", "factor": 4.0}""")]
    public void LlamaCppLogitsMatchSharpLmWithScaledRope(string scaling)
    {
        using var dir = new TempDirectory();
        var tokenizer = TestCorpus.Tokenizer;
        var config = LlamaConfig.FromJson($$"""
            {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": {{tokenizer.VocabSize}},
             "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
             "initializer_range": 0.1, "rope_scaling": {{scaling}}}
            """);
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(11);
        model.eval();
        ModelFolder.Save(dir.File("m"), model, tokenizer);
        GgufExporter.Export(dir.File("m"), dir.File("m.gguf"), GgufTensorType.F32);

        using var ids = TestModels.RandomIds(1, 100, tokenizer.VocabSize, seed: 5);
        float[] expected = LastLogits(model, ids);
        using var llama = new LlamaCppModel(dir.File("m.gguf"), contextSize: 128);
        float[] actual = llama.Logits(ids[0].data<long>().Select(i => (int)i).ToArray());

        var unscaledConfig = config.Clone();
        unscaledConfig.RopeScaling = null;
        using var unscaled = new LlamaForCausalLM(unscaledConfig);
        unscaled.load_state_dict(model.state_dict());
        unscaled.eval();
        float[] withoutScaling = LastLogits(unscaled, ids);

        double difference = MaxDifference(expected, actual), scale = expected.Max(Math.Abs);
        double scalingEffect = MaxDifference(expected, withoutScaling);
        output.WriteLine($"max |diff| {difference:E2}, max |logit| {scale:F2}, effect of the scaling {scalingEffect:E2}");
        Assert.True(scalingEffect > 1e-3 * scale, "the test model must be sensitive to the scaling");
        Assert.True(difference < 1e-5 * scale, $"max |diff| {difference} for logits up to {scale}");
    }

    static float[] LastLogits(LlamaForCausalLM model, Tensor ids)
    {
        using var noGrad = no_grad();
        using var logits = model.forward(ids);
        return logits[0, -1].data<float>().ToArray();
    }

    static double MaxDifference(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
}
