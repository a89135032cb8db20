using SharpLM.Formats;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Formats;

public class SafetensorsIndexTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    const string Shard1 = "model-00001-of-00002.safetensors";
    const string Shard2 = "model-00002-of-00002.safetensors";

    string WriteShardedCheckpoint(string weightMapJson)
    {
        using var scope = torch.NewDisposeScope();
        SafetensorsWriter.Write(dir.File(Shard1), new Dictionary<string, Tensor>
        {
            ["model.embed_tokens.weight"] = torch.arange(6, dtype: ScalarType.Float32).reshape(3, 2),
        });
        SafetensorsWriter.Write(dir.File(Shard2), new Dictionary<string, Tensor>
        {
            ["model.norm.weight"] = torch.full(2, 0.5f),
            ["lm_head.weight"] = torch.ones(3, 2),
        }, SafetensorsDType.BF16);
        return dir.Write("model.safetensors.index.json",
            $$"""{"metadata": {"total_size": 36}, "weight_map": {{weightMapJson}}}""");
    }

    const string GoodMap =
        $$"""{"model.embed_tokens.weight": "{{Shard1}}", "model.norm.weight": "{{Shard2}}", "lm_head.weight": "{{Shard2}}"}""";

    [Fact]
    public void LoadsEachTensorFromItsShard()
    {
        string indexPath = WriteShardedCheckpoint(GoodMap);

        using var index = SafetensorsIndex.Open(indexPath);

        Assert.Equal(["lm_head.weight", "model.embed_tokens.weight", "model.norm.weight"], index.Names);
        Assert.Equal(Shard2, index.WeightMap["lm_head.weight"]);
        Assert.Equal(SafetensorsDType.BF16, index.GetEntry("model.norm.weight").DType);
        using var embed = index.Load("model.embed_tokens.weight");
        Assert.Equal([0f, 1, 2, 3, 4, 5], embed.data<float>().ToArray());
        using var norm = index.Load("model.norm.weight", ScalarType.Float32);
        Assert.Equal([0.5f, 0.5f], norm.data<float>().ToArray());
    }

    [Fact]
    public void UnknownNameNamesIndexAndTensor()
    {
        string indexPath = WriteShardedCheckpoint(GoodMap);
        using var index = SafetensorsIndex.Open(indexPath);
        var e = Assert.Throws<SharpLMException>(() => index.Load("model.layers.0.mlp.up_proj.weight"));
        Assert.Contains(indexPath, e.Message);
        Assert.Contains("model.layers.0.mlp.up_proj.weight", e.Message);
    }

    [Fact]
    public void MissingShardIsNamed()
    {
        string indexPath = WriteShardedCheckpoint($$"""{"model.norm.weight": "model-00003-of-00003.safetensors"}""");
        var e = Assert.Throws<SharpLMException>(() => SafetensorsIndex.Open(indexPath));
        Assert.Contains("model-00003-of-00003.safetensors", e.Message);
    }

    [Fact]
    public void TensorMappedToTheWrongShardIsNamed()
    {
        string indexPath = WriteShardedCheckpoint($$"""{"lm_head.weight": "{{Shard1}}"}""");
        var e = Assert.Throws<SharpLMException>(() => SafetensorsIndex.Open(indexPath));
        Assert.Contains("\"lm_head.weight\"", e.Message);
        Assert.Contains(Shard1, e.Message);
    }

    [Fact]
    public void ShardPathOutsideTheFolderIsRejected()
    {
        string indexPath = WriteShardedCheckpoint("""{"lm_head.weight": "../elsewhere.safetensors"}""");
        var e = Assert.Throws<SharpLMException>(() => SafetensorsIndex.Open(indexPath));
        Assert.Contains("not a file name", e.Message);
    }

    [Fact]
    public void IndexWithoutWeightMapIsAnError()
    {
        string indexPath = dir.Write("model.safetensors.index.json", """{"metadata": {}}""");
        var e = Assert.Throws<SharpLMException>(() => SafetensorsIndex.Open(indexPath));
        Assert.Contains("weight_map", e.Message);
    }
}
