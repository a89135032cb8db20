using System.Text.Json;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Formats;

public class ModelFolderSaveTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    // The tiny model is 90,752 bytes in F32; its largest tensors (embedding, head, MLP) are 8,192 bytes each.
    static readonly ModelSaveOptions SmallShards = new() { MaxShardBytes = 10_000 };

    static void AssertSameWeights(LlamaForCausalLM expected, LlamaForCausalLM actual)
    {
        var actualWeights = actual.state_dict();
        foreach (var (name, tensor) in expected.state_dict())
            Assert.True(tensor.Equals(actualWeights[name]), name);
    }

    static string[] Files(string folder) => Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void PlanSplitsInOrderAsHuggingFaceDoes()
    {
        // huggingface_hub's documented example: [6, 6, 2, 6, 2, 2] GB with a 10 GB limit -> [6], [6+2], [6+2+2].
        var plan = ShardedSafetensorsWriter.Plan([("a", 6), ("b", 6), ("c", 2), ("d", 6), ("e", 2), ("f", 2)], 10);
        Assert.Equal([["a"], ["b", "c"], ["d", "e", "f"]], plan);
        // A tensor larger than the limit gets a shard of its own; the current shard carries on after it.
        Assert.Equal([["big"], ["a", "b"]], ShardedSafetensorsWriter.Plan([("a", 3), ("big", 20), ("b", 3)], 10));
        Assert.Equal("model-00002-of-00012.safetensors", ShardedSafetensorsWriter.ShardName("model.safetensors", 2, 12));
    }

    [Theory]
    [InlineData("2GB", 2_000_000_000L)]
    [InlineData("500MB", 500_000_000L)]
    [InlineData(" 1.5gb ", 1_500_000_000L)]
    [InlineData("64KB", 64_000L)]
    [InlineData("123456", 123_456L)]
    public void ShardSizesParseLikeHuggingFace(string text, long bytes) => Assert.Equal(bytes, ModelSaveOptions.ParseSize(text));

    [Theory]
    [InlineData("5XB")]
    [InlineData("GB")]
    [InlineData("-1GB")]
    [InlineData("lots")]
    public void BadShardSizesAreRefused(string text) =>
        Assert.Contains(text.Trim(), Assert.Throws<SharpLMException>(() => ModelSaveOptions.ParseSize(text)).Message);

    [Fact]
    public void ShardedSaveLoadsAsTheSingleFileDoes()
    {
        using var model = TestModels.Tiny();
        ModelFolder.Save(dir.File("single"), model, null);
        ModelFolder.Save(dir.File("sharded"), model, null, options: SmallShards);

        Assert.Equal([ModelFolder.ConfigFile, ModelFolder.GenerationConfigFile, ModelFolder.WeightsFile], Files(dir.File("single")));
        var files = Files(dir.File("sharded"));
        var shards = files.Where(f => f.StartsWith("model-", StringComparison.Ordinal)).ToArray();
        Assert.True(shards.Length >= 3, string.Join(", ", files));
        Assert.Equal(Enumerable.Range(1, shards.Length).Select(i => $"model-{i:D5}-of-{shards.Length:D5}.safetensors"), shards);
        Assert.Contains(ModelFolder.IndexFile, files);
        Assert.DoesNotContain(ModelFolder.WeightsFile, files);

        using var single = ModelFolder.Load(dir.File("single"));
        using var sharded = ModelFolder.Load(dir.File("sharded"));
        AssertSameWeights(model, single);
        AssertSameWeights(single, sharded);
    }

    [Fact]
    public void IndexIsWrittenAsTransformersWritesIt()
    {
        using var model = TestModels.Tiny();
        ModelFolder.Save(dir.Path, model, null, options: SmallShards);
        var text = File.ReadAllText(dir.File(ModelFolder.IndexFile));
        long parameters = model.ParameterCount();
        // json.dumps(index, indent=2, sort_keys=True) + "\n"
        Assert.StartsWith($"{{\n  \"metadata\": {{\n    \"total_parameters\": {parameters},\n    \"total_size\": " +
                          $"{parameters * 4}\n  }},\n  \"weight_map\": {{\n    \"lm_head.weight\": \"model-", text);
        Assert.EndsWith("\"\n  }\n}\n", text);

        using var document = JsonDocument.Parse(text);
        var map = document.RootElement.GetProperty("weight_map").EnumerateObject().ToList();
        Assert.Equal(map.Select(p => p.Name).Order(StringComparer.Ordinal), map.Select(p => p.Name));
        Assert.Equal(model.state_dict().Keys.Order(StringComparer.Ordinal), map.Select(p => p.Name));
        using var index = SafetensorsIndex.Open(dir.File(ModelFolder.IndexFile));
        Assert.Equal(parameters * 4, index.Names.Sum(n => index.GetEntry(n).ByteLength));

        // Shards follow transformers' module order: embedding first, then each layer's attention, MLP and norms, head last.
        var shardOf = map.ToDictionary(p => p.Name, p => p.Value.GetString()!);
        string[] hfOrder =
        [
            "model.embed_tokens.weight",
            .. Enumerable.Range(0, 2).SelectMany(i => new[]
            {
                "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm",
            }.Select(p => $"model.layers.{i}.{p}.weight")),
            "model.norm.weight", "lm_head.weight",
        ];
        var expectedPlan = ShardedSafetensorsWriter.Plan(hfOrder.Select(n => (n, model.state_dict()[n].numel() * 4)), SmallShards.MaxShardBytes);
        for (int s = 0; s < expectedPlan.Count; s++)
            foreach (var name in expectedPlan[s])
                Assert.Equal(ShardedSafetensorsWriter.ShardName(ModelFolder.WeightsFile, s + 1, expectedPlan.Count), shardOf[name]);
    }

    [Theory]
    [InlineData(SafetensorsDType.BF16, "bfloat16", 8)]
    [InlineData(SafetensorsDType.F16, "float16", 11)]
    public void HalfPrecisionSavesLoadWithinTheirPrecision(SafetensorsDType dtype, string torchDtype, int mantissaBits)
    {
        using var model = TestModels.Tiny();
        ModelFolder.Save(dir.Path, model, null, options: SmallShards with { DType = dtype });
        Assert.Equal(torchDtype, LlamaConfig.Load(dir.File(ModelFolder.ConfigFile)).TorchDtype);
        using (var index = SafetensorsIndex.Open(dir.File(ModelFolder.IndexFile)))
            Assert.All(index.Names, n => Assert.Equal(dtype, index.GetEntry(n).DType));

        using var loaded = ModelFolder.Load(dir.Path);
        var loadedWeights = loaded.state_dict();
        foreach (var (name, original) in model.state_dict())
        {
            using var error = (loadedWeights[name] - original).abs();
            using var bound = original.abs() * Math.Pow(2, -mantissaBits) + 1e-7;
            Assert.True(error.le(bound).all().item<bool>(), $"{name}: max error {error.max().item<float>()}");
        }
    }

    [Fact]
    public void EachSaveRemovesTheWeightsOfEarlierSavesInOtherLayouts()
    {
        using var model = TestModels.Tiny(seed: 1);
        using var other = TestModels.Tiny(seed: 2);
        ModelFolder.Save(dir.Path, other, null);
        ModelFolder.Save(dir.Path, other, null, options: new ModelSaveOptions { MaxShardBytes = 5_000 });
        int many = Files(dir.Path).Count(f => f.StartsWith("model-", StringComparison.Ordinal));

        // Fewer, larger shards: the single file and the shards "of {many}" are gone.
        ModelFolder.Save(dir.Path, model, null, options: SmallShards);
        var files = Files(dir.Path);
        int fewer = files.Count(f => f.StartsWith("model-", StringComparison.Ordinal));
        Assert.InRange(fewer, 2, many - 1);
        Assert.All(files.Where(f => f.StartsWith("model-", StringComparison.Ordinal)), f => Assert.EndsWith($"-of-{fewer:D5}.safetensors", f));
        Assert.DoesNotContain(ModelFolder.WeightsFile, files);
        using (var loaded = ModelFolder.Load(dir.Path)) AssertSameWeights(model, loaded);

        // Back to one file: no index and no shards remain.
        ModelFolder.Save(dir.Path, other, null);
        Assert.Equal([ModelFolder.ConfigFile, ModelFolder.GenerationConfigFile, ModelFolder.WeightsFile], Files(dir.Path));
        using (var loaded = ModelFolder.Load(dir.Path)) AssertSameWeights(other, loaded);
    }

    [Fact]
    public void OtherTensorTypesAreRefused()
    {
        using var model = TestModels.Tiny();
        var e = Assert.Throws<SharpLMException>(() =>
            ModelFolder.Save(dir.Path, model, null, options: new ModelSaveOptions { DType = SafetensorsDType.I8 }));
        Assert.Contains("F32, BF16, F16", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }
}
