using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

public class LlamaModelTests
{
    [Theory]
    [InlineData("base", 179_448_576L)]
    [InlineData("small", 15_733_632L)]
    public void PresetParameterCounts(string preset, long expected)
    {
        var config = ModelPresets.Get(preset);
        Assert.Equal(expected, config.ParameterCount());
        using var model = new LlamaForCausalLM(config);
        Assert.Equal(expected, model.ParameterCount());
    }

    [Fact]
    public void SeedIsAnAliasOfBaseAndNotListed()
    {
        Assert.Equal(["tiny", "small", "base"], ModelPresets.Names);
        Assert.Equal(ModelPresets.Get("base").ToJson(), ModelPresets.Get("seed").ToJson());
        Assert.Contains("expected one of: tiny, small, base", Assert.Throws<SharpLMException>(() => ModelPresets.Get("huge")).Message);
    }

    [Fact]
    public void StateDictUsesHuggingFaceNamesAndNoRopeTables()
    {
        using var model = TestModels.Tiny();
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("model.embed_tokens.weight", keys);
        Assert.Contains("model.layers.1.self_attn.k_proj.weight", keys);
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", keys);
        Assert.Contains("model.layers.0.post_attention_layernorm.weight", keys);
        Assert.Contains("model.norm.weight", keys);
        Assert.Contains("lm_head.weight", keys);
        Assert.DoesNotContain(keys, k => k.Contains("rotary"));
        Assert.Equal(2 + 1 + 2 * 9, keys.Count);
    }

    [Fact]
    public void TiedModelHasNoHead()
    {
        using var model = TestModels.Tiny(tied: true);
        Assert.DoesNotContain("lm_head.weight", model.state_dict().Keys);
        using var ids = TestModels.RandomIds(1, 5, 64);
        using var logits = model.forward(ids);
        Assert.Equal(new long[] { 1, 5, 64 }, logits.shape);
    }

    [Fact]
    public void ChangingAFutureTokenNeverChangesEarlierLogits()
    {
        using var model = TestModels.Tiny();
        using var noGrad = no_grad();
        using var ids = TestModels.RandomIds(2, 12, 64);
        using var changed = ids.clone();
        changed[.., 8] = (ids[.., 8] + 1) % 64;
        using var a = model.forward(ids);
        using var b = model.forward(changed);
        Assert.True(allclose(a[.., ..8], b[.., ..8], rtol: 0, atol: 1e-6));
        Assert.False(allclose(a[.., 8..], b[.., 8..], rtol: 0, atol: 1e-3));
    }

    [Fact]
    public void KvCacheLogitsEqualFullRecompute()
    {
        using var model = TestModels.Tiny();
        using var noGrad = no_grad();
        using var ids = TestModels.RandomIds(2, 10, 64);
        using var full = model.forward(ids);
        using var cache = new KvCache(model.Config, 2, 16);
        // Prefill 4, then a chunk of 3, then one token at a time.
        var parts = new List<Tensor>
        {
            model.forward(ids[.., ..4], new ForwardOptions { Cache = cache }),
            model.forward(ids[.., 4..7], new ForwardOptions { Cache = cache }),
        };
        for (int i = 7; i < 10; i++)
            parts.Add(model.forward(ids[.., i..(i + 1)], new ForwardOptions { Cache = cache }));
        using var incremental = cat(parts, 1);
        Assert.Equal(10, cache.Length);
        Assert.True(allclose(full, incremental, rtol: 1e-4, atol: 1e-5), $"max diff {(full - incremental).abs().max().item<float>()}");
    }

    [Fact]
    public void LeftPaddingGivesTheSameLogitsAsNoPaddingAndNoNaN()
    {
        using var model = TestModels.Tiny();
        using var noGrad = no_grad();
        using var ids = TestModels.RandomIds(1, 6, 64);
        using var alone = model.forward(ids);
        // Same sequence left-padded by 3 positions (pad id 0), positions counted from the first real token.
        using var padded = cat([zeros(1, 3, dtype: int64), ids], 1);
        using var mask = cat([zeros(1, 3, dtype: int64), ones(1, 6, dtype: int64)], 1);
        using var positions = tensor(new long[] { 0, 0, 0, 0, 1, 2, 3, 4, 5 }).view(1, -1);
        using var logits = model.forward(padded, new ForwardOptions { AttentionMask = mask, PositionIds = positions });
        Assert.False(logits.isnan().any().item<bool>());
        Assert.True(allclose(alone, logits[.., 3..], rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void PackedExamplesDoNotSeeEachOther()
    {
        using var model = TestModels.Tiny();
        using var noGrad = no_grad();
        using var a = TestModels.RandomIds(1, 5, 64, seed: 1);
        using var b = TestModels.RandomIds(1, 4, 64, seed: 2);
        using var la = model.forward(a);
        using var lb = model.forward(b);
        using var packed = cat([a, b], 1);
        using var segments = tensor(new long[] { 0, 0, 0, 0, 0, 1, 1, 1, 1 }).view(1, -1);
        using var positions = tensor(new long[] { 0, 1, 2, 3, 4, 0, 1, 2, 3 }).view(1, -1);
        using var lp = model.forward(packed, new ForwardOptions { SegmentIds = segments, PositionIds = positions });
        Assert.True(allclose(la, lp[.., ..5], rtol: 1e-4, atol: 1e-5));
        Assert.True(allclose(lb, lp[.., 5..], rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Bf16ComputeStaysCloseToFp32()
    {
        using var model = TestModels.Tiny();
        using var noGrad = no_grad();
        using var ids = TestModels.RandomIds(2, 8, 64);
        using var fp32 = model.forward(ids);
        model.SetComputeType(ScalarType.BFloat16);
        using var bf16 = model.forward(ids);
        model.SetComputeType(null);
        Assert.Equal(ScalarType.Float32, bf16.dtype);
        Assert.True((fp32 - bf16).abs().max().item<float>() < 0.05f);
    }

    [Fact]
    public void TooLongSequenceAndOutOfVocabIdsGiveClearErrors()
    {
        using var model = TestModels.Tiny();
        using var noGrad = no_grad();
        using var tooLong = zeros(1, 65, dtype: int64);
        var e1 = Assert.Throws<SharpLMException>(() => model.forward(tooLong));
        Assert.Contains("max_position_embeddings", e1.Message);
        using var badId = full(1, 3, 64L, dtype: int64);
        var e2 = Assert.Throws<SharpLMException>(() => model.forward(badId));
        Assert.Contains("vocab", e2.Message);
    }

    [Fact]
    public void ConfigJsonRoundTripsAndKeepsUnknownFields()
    {
        var json = """{"vocab_size": 100, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,""" +
                   """ "num_key_value_heads": 2, "eos_token_id": [5, 6], "some_future_field": {"a": 1}}""";
        var config = LlamaConfig.FromJson(json);
        Assert.Equal(new[] { 5, 6 }, config.EosTokenId);
        var again = LlamaConfig.FromJson(config.ToJson());
        Assert.Equal(100, again.VocabSize);
        Assert.Contains("some_future_field", again.ToJson());
        var bad = Assert.Throws<SharpLMException>(() => LlamaConfig.FromJson(
            """{"vocab_size": 100, "hidden_size": 30, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4}""",
            "x/config.json"));
        Assert.Contains("x/config.json", bad.Message);
        Assert.Contains("divisible", bad.Message);
    }

    [Fact]
    public void HeadDimOtherThanHiddenOverHeadsShapesAttentionEndToEnd()
    {
        // Like Llama-3.2 and Gemma-style configs: heads x head_dim (4 x 32 = 128) differs from hidden (64).
        var config = new LlamaConfig
        {
            VocabSize = 64, MaxPositionEmbeddings = 32, HiddenSize = 64, IntermediateSize = 96, NumHiddenLayers = 2,
            NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2, HeadDimRaw = 32,
        };
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(3);
        model.eval();
        var attention = model.model.layers[0].self_attn;
        Assert.Equal(new long[] { 128, 64 }, attention.q_proj.weight.shape);
        Assert.Equal(new long[] { 64, 64 }, attention.k_proj.weight.shape);
        Assert.Equal(new long[] { 64, 128 }, attention.o_proj.weight.shape);
        Assert.Equal(config.ParameterCount(), model.ParameterCount());

        using var noGrad = no_grad();
        using var ids = TestModels.RandomIds(1, 9, 64);
        using var full = model.forward(ids);
        using var cache = new KvCache(config, 1, 16);
        using var prefill = model.forward(ids[.., ..5], new ForwardOptions { Cache = cache });
        var steps = Enumerable.Range(5, 4).Select(i => model.forward(ids[.., i..(i + 1)], new ForwardOptions { Cache = cache })).ToList();
        using var incremental = cat([prefill, .. steps], 1);
        Assert.True(allclose(full, incremental, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void InitialisationIsDeterministicForASeed()
    {
        using var a = TestModels.Tiny(seed: 4);
        using var b = TestModels.Tiny(seed: 4);
        using var c = TestModels.Tiny(seed: 5);
        foreach (var ((name, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
            Assert.True(pa.Equals(pb), name);
        Assert.False(a.model.embed_tokens.weight!.Equals(c.model.embed_tokens.weight!));
    }
}
