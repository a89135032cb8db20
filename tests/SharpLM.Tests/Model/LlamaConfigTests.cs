using SharpLM.Model;
using Xunit;

namespace SharpLM.Tests.Model;

public class LlamaConfigTests
{
    const string Sizes = """
        "vocab_size": 32, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4
        """;

    static LlamaConfig Parse(string fields) => LlamaConfig.FromJson("{" + fields + "}", "m/config.json");

    static string Refused(string fields) => Assert.Throws<SharpLMException>(() => Parse(fields)).Message;

    [Fact]
    public void Gpt2IsRefusedBeforeItsMissingFieldsWithWhatIsSupported()
    {
        // GPT-2's own field names (n_embd, n_layer): the architecture is the useful complaint, not hidden_size.
        var message = Refused("""
            "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257
            """);
        Assert.Contains("m/config.json: model_type \"gpt2\" is not supported", message);
        Assert.Contains("\"llama\"", message);
        Assert.Contains("\"mistral\"", message);
        Assert.Contains("sliding_window", message);
    }

    [Theory]
    [InlineData("qwen3_moe", "Qwen3MoeForCausalLM", "mixture-of-experts")]
    [InlineData("gemma", "GemmaForCausalLM", "norms")]
    [InlineData("phi", "PhiForCausalLM", "not supported")]
    public void OtherDecodersAreRefusedWithTheReason(string modelType, string architecture, string reason)
    {
        var message = Refused($$""" "model_type": "{{modelType}}", "architectures": ["{{architecture}}"], {{Sizes}} """);
        Assert.Contains($"model_type \"{modelType}\" is not supported", message);
        Assert.Contains(reason, message);
    }

    [Fact]
    public void ALlamaBodyWithAnotherHeadIsRefused()
    {
        var message = Refused($$""" "model_type": "llama", "architectures": ["LlamaForSequenceClassification"], {{Sizes}} """);
        Assert.Contains("\"LlamaForSequenceClassification\"", message);
        Assert.Contains("LlamaForCausalLM", message);
    }

    [Theory]
    [InlineData("\"sliding_window\": null, \"max_position_embeddings\": 32768", true)]
    [InlineData("\"sliding_window\": 32768, \"max_position_embeddings\": 32768", true)]
    [InlineData("\"sliding_window\": 4096, \"max_position_embeddings\": 32768", false)] // Mistral-7B v0.1
    [InlineData("\"max_position_embeddings\": 32768", false)] // left out: transformers' default window of 4096
    public void MistralIsAcceptedOnlyWhenItsSlidingWindowNeverApplies(string window, bool accepted)
    {
        var fields = $$""" "model_type": "mistral", "architectures": ["MistralForCausalLM"], {{Sizes}}, "num_key_value_heads": 2, {{window}} """;
        if (accepted)
        {
            Assert.Equal("mistral", Parse(fields).ModelType);
            return;
        }
        var message = Refused(fields);
        Assert.Contains("sliding_window 4096 is smaller than max_position_embeddings 32768", message);
    }

    [Fact]
    public void MissingShapeFieldsAreAllNamed()
    {
        var message = Refused(""" "model_type": "llama", "hidden_size": 64 """);
        Assert.Contains("m/config.json: missing required fields vocab_size, intermediate_size, num_hidden_layers, num_attention_heads", message);
    }

    [Fact]
    public void LeftOutFieldsTakeTransformersDefaults()
    {
        var llama = Parse($$""" "model_type": "llama", {{Sizes}} """);
        Assert.Equal((4, 1e-6, 2048), (llama.NumKeyValueHeads, llama.RmsNormEps, llama.MaxPositionEmbeddings));
        var mistral = Parse("""
            "model_type": "mistral", "vocab_size": 32, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
            "num_attention_heads": 16, "sliding_window": null
            """);
        Assert.Equal((8, 131072), (mistral.NumKeyValueHeads, mistral.MaxPositionEmbeddings));
        // Written out resolved, so every reader sees the same model.
        Assert.Contains("\"num_key_value_heads\": 4", llama.ToJson());
    }

    [Fact]
    public void UnknownFieldsAndScalingRoundTrip()
    {
        var config = Parse($$"""
            "model_type": "llama", {{Sizes}}, "rope_interleaved": false, "is_llama_config": true,
            "rope_scaling": {"rope_type": "linear", "factor": 2.0}, "sliding_window": null
            """);
        var json = LlamaConfig.FromJson(config.ToJson()).ToJson();
        Assert.Contains("\"rope_interleaved\": false", json);
        Assert.Contains("\"is_llama_config\": true", json);
        Assert.Contains("\"sliding_window\": null", json);
        Assert.Contains("\"linear\"", json);
    }

    [Fact]
    public void LlamaBiasOptionsBuildTheirBiasesAndGgufExportRefusesThem()
    {
        var config = TestModels.TinyConfig();
        config.AttentionBias = true;
        config.MlpBias = true;
        using var model = new LlamaForCausalLM(config);
        var biases = model.named_parameters().Select(p => p.name)
            .Where(n => n.EndsWith(".bias")).Where(n => n.StartsWith("model.layers.0.")).Order().ToArray();
        Assert.Equal(["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"],
            biases.Select(n => n.Split('.')[^2]).Order().ToArray());
        Assert.Equal(model.parameters().Sum(p => p.numel()), config.ParameterCount());
        using var dir = new TempDirectory();
        var e = Assert.Throws<SharpLMException>(() =>
            SharpLM.Hub.GgufExporter.Export(model, new TestByteTokenizer(), dir.File("m.gguf"), SharpLM.Formats.GgufTensorType.F32));
        Assert.Contains("attention_bias / mlp_bias models cannot be exported to GGUF", e.Message);
    }
}
