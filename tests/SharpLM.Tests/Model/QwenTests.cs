using SharpLM.Adapters;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Interop;
using SharpLM.Tests.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>Qwen2 / Qwen2.5 (<c>model_type "qwen2"</c>: Llama with biases on q/k/v) and Qwen3 (<c>"qwen3"</c>: Llama
/// with an RMSNorm on each query and key head, and a head_dim of its own), checked against llama.cpp's qwen2 and qwen3.</summary>
[Collection(LlamaCppCollection.Name)]
public sealed class QwenTests : IDisposable
{
    // Qwen2.5-0.5B-Instruct's config.json with the sizes shrunk (its other fields as released).
    const string Qwen2 = """
    {
      "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
      "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 176, "max_position_embeddings": 128,
      "max_window_layers": 21, "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
      "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
      "use_cache": true, "use_sliding_window": false, "vocab_size": 400
    }
    """;

    // Qwen3-0.6B's config.json with the sizes shrunk; as there, heads x head_dim (4 x 32) differs from hidden_size.
    const string Qwen3 = """
    {
      "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "attention_bias": false, "attention_dropout": 0.0,
      "bos_token_id": 1, "eos_token_id": 2, "head_dim": 32, "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02,
      "intermediate_size": 176, "max_position_embeddings": 128, "max_window_layers": 28, "num_attention_heads": 4,
      "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
      "sliding_window": null, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true,
      "use_sliding_window": false, "vocab_size": 400
    }
    """;

    static string Config(string family) => family == "qwen2" ? Qwen2 : Qwen3;

    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static LlamaForCausalLM Model(string family, long seed = 3)
    {
        var model = new LlamaForCausalLM(LlamaConfig.FromJson(Config(family)));
        model.InitializeWeights(seed);
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
            {
                // transformers starts biases at zero and norms at one; make them matter
                if (name.EndsWith(".bias")) p.normal_(0, 0.5);
                if (name.EndsWith("q_norm.weight") || name.EndsWith("k_norm.weight")) p.uniform_(0.5, 1.5);
            }
        model.eval();
        return model;
    }

    [Fact]
    public void Qwen2BuildsQkvBiasesAndCountsThem()
    {
        using var model = Model("qwen2");
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", names);
        Assert.Contains("model.layers.1.self_attn.v_proj.bias", names);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", names);
        Assert.DoesNotContain("model.layers.0.mlp.gate_proj.bias", names);
        Assert.Equal(model.parameters().Sum(p => p.numel()), model.Config.ParameterCount());
    }

    [Fact]
    public void Qwen3BuildsQueryAndKeyNormsOverItsHeadDim()
    {
        using var model = Model("qwen3");
        var attention = model.model.layers[0].self_attn;
        Assert.Equal([32L], attention.q_norm!.weight.shape);
        Assert.Equal([4L * 32, 64], attention.q_proj.weight.shape);
        Assert.Null(attention.q_proj.bias);
        Assert.Contains("model.layers.1.self_attn.k_norm.weight", model.named_parameters().Select(p => p.name));
        Assert.Equal(model.parameters().Sum(p => p.numel()), model.Config.ParameterCount());
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void TheExtraWeightsChangeTheOutputAndRoundTripThroughTheFolder(string family)
    {
        using var model = Model(family);
        var ids = new[] { 1, 17, 250, 3, 99 };
        var withBiases = TestModels.LastLogits(model, ids);
        ModelFolder.Save(dir.File("qwen"), model, TestCorpus.Tokenizer);
        using var reloaded = ModelFolder.Load(dir.File("qwen"));
        Assert.Equal(family, reloaded.Config.ModelType);
        Assert.Equal(withBiases, TestModels.LastLogits(reloaded, ids));

        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.EndsWith(".bias")) p.zero_();
                else if (name.EndsWith("q_norm.weight") || name.EndsWith("k_norm.weight")) p.fill_(2.0);
        Assert.NotEqual(withBiases, TestModels.LastLogits(model, ids));
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void LlamaCppGivesTheSameLogitsAndGreedyTokens(string family)
    {
        using var model = Model(family);
        ModelFolder.Save(dir.File("qwen"), model, TestCorpus.Tokenizer);
        GgufExporter.Export(dir.File("qwen"), dir.File("qwen.gguf"), GgufTensorType.F32);
        using var llama = new LlamaCppModel(dir.File("qwen.gguf"));
        int[] prompt = [TestCorpus.Tokenizer.Special.Bos!.Value, .. TestCorpus.Tokenizer.Encode("the old house by the river")];
        var expected = TestModels.LastLogits(model, prompt);
        var actual = llama.Logits(prompt);
        double scale = expected.Max(Math.Abs), difference = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(difference < 1e-5 * scale, $"max |diff| {difference} for logits up to {scale}");
        var greedy = new SharpLM.Generation.TokenGenerator(model)
            .Generate(prompt, SharpLM.Generation.SamplingOptions.Greedy with { MaxNewTokens = 24, StopAtEos = false }, new HashSet<int>()).ToArray();
        Assert.Equal(greedy, llama.Greedy(prompt, 24));
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void LoraMergesToTheSameOutputs(string family)
    {
        using var model = Model(family);
        var ids = new[] { 1, 5, 9, 200 };
        var before = TestModels.LastLogits(model, ids);
        Lora.Apply(model, new LoraOptions { Rank = 4, Alpha = 8 }, seed: 2);
        Assert.Equal(before, TestModels.LastLogits(model, ids)); // B starts at zero
        using (no_grad())
            foreach (var (_, _, adapter) in Lora.Adapters(model)) adapter.B.weight.normal_(0, 0.1);
        var adapted = TestModels.LastLogits(model, ids);
        Lora.Merge(model);
        var merged = TestModels.LastLogits(model, ids);
        Assert.True(adapted.Zip(merged).Max(p => Math.Abs(p.First - p.Second)) < 1e-5);
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void SlidingWindowAttentionIsRefused(string family)
    {
        var e = Assert.Throws<SharpLMException>(() =>
            LlamaConfig.FromJson(Config(family).Replace("\"use_sliding_window\": false", "\"use_sliding_window\": true")));
        Assert.Contains("use_sliding_window is true", e.Message);
    }
}
