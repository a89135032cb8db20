using System.Text.Json.Nodes;
using SharpLM.Adapters;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Adapters;

/// <summary>An adapter folder finds its base after both are moved, by a path relative to the adapter or by the base's
/// fingerprint among its neighbours, and is never put on another base without being told to.</summary>
public class AdapterBaseTests
{
    static LlamaForCausalLM SaveBase(string folder, long seed)
    {
        var model = TestModels.Tiny(vocab: TestCorpus.Tokenizer.VocabSize, seed: seed);
        ModelFolder.Save(folder, model, TestCorpus.Tokenizer);
        return model;
    }

    static void SaveAdapter(string folder, LlamaForCausalLM model, string? baseModel)
    {
        var options = new LoraOptions { Rank = 2 };
        Lora.Apply(model, options, seed: 1);
        AdapterFolder.Save(folder, model, options, baseModel);
        Lora.Remove(model);
    }

    static string StoredBase(string adapter) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, AdapterFolder.ConfigFile)))!["base_model_name_or_path"]!.GetValue<string>();

    [Fact]
    public void ARelativeBaseIsStoredRelativeToTheAdapterAndFollowsAMove()
    {
        using var dir = new TempDirectory();
        using var model = SaveBase(dir.File("a/base"), seed: 5);
        SaveAdapter(dir.File("a/runs/adapter"), model, Path.GetRelativePath(Environment.CurrentDirectory, dir.File("a/base")));
        Assert.Equal(Path.Combine("..", "..", "base"), StoredBase(dir.File("a/runs/adapter")));

        Directory.Move(dir.File("a"), dir.File("moved"));
        string adapter = dir.File("moved/runs/adapter");
        Assert.Equal(dir.File("moved/base"), Path.GetFullPath(AdapterBase.Resolve(adapter)));
        using var loaded = PretrainedModel.Load(adapter);
        Assert.Equal(adapter, loaded.Adapter);
        Assert.Equal(dir.File("moved/base"), Path.GetFullPath(loaded.Folder));
    }

    [Fact]
    public void AHubNameOrAbsolutePathIsStoredAsGiven()
    {
        using var dir = new TempDirectory();
        using var model = SaveBase(dir.File("base"), seed: 5);
        SaveAdapter(dir.File("hub"), model, "meta-llama/Llama-3.2-1B");
        Assert.Equal("meta-llama/Llama-3.2-1B", StoredBase(dir.File("hub")));
        SaveAdapter(dir.File("abs"), model, dir.File("base"));
        Assert.Equal(dir.File("base"), StoredBase(dir.File("abs")));
    }

    [Fact]
    public void AMissingBaseIsFoundBesideTheAdapterByFingerprint()
    {
        using var dir = new TempDirectory();
        using (SaveBase(dir.File("other"), seed: 6)) { }
        using var model = SaveBase(dir.File("renamed-base"), seed: 5);
        SaveAdapter(dir.File("adapter"), model, "/nowhere/base");
        Assert.Equal(BaseFingerprint.Of(model), BaseFingerprint.OfFolder(dir.File("renamed-base")));
        Assert.Equal(Path.GetFullPath(dir.File("renamed-base")), AdapterBase.Resolve(dir.File("adapter")));
    }

    [Fact]
    public void WhenNoBaseIsFoundTheErrorSaysWhereItLooked()
    {
        using var dir = new TempDirectory();
        using var model = SaveBase(dir.File("elsewhere/base"), seed: 5);
        SaveAdapter(dir.File("runs/adapter"), model, "/nowhere/base");
        using (SaveBase(dir.File("runs/not-it"), seed: 6)) { }
        var e = Assert.Throws<SharpLMException>(() => AdapterBase.Resolve(dir.File("runs/adapter")));
        Assert.Contains("/nowhere/base", e.Message);
        Assert.Contains(Path.Combine(dir.File("runs/adapter"), "/nowhere/base"), e.Message);
        Assert.Contains($"the model folders in {dir.File("runs")}", e.Message);
    }

    [Fact]
    public void AnAdapterIsNeverPutOnAnotherBaseUnlessAllowed()
    {
        using var dir = new TempDirectory();
        using var model = SaveBase(dir.File("base"), seed: 5);
        using (SaveBase(dir.File("base-6"), seed: 6)) { }
        SaveAdapter(dir.File("adapter"), model, dir.File("base"));
        using var other = TestModels.Tiny(vocab: TestCorpus.Tokenizer.VocabSize, seed: 6);
        Lora.Apply(other, new LoraOptions { Rank = 2 }, seed: 1);
        // The path that copies weights into adapters already attached (resuming a run) checks the base too.
        Assert.Contains("different base model",
            Assert.Throws<SharpLMException>(() => AdapterFolder.LoadWeightsInto(dir.File("adapter"), other)).Message);
        AdapterFolder.LoadWeightsInto(dir.File("adapter"), other, ignoreFingerprint: true);
        Assert.Contains("different base model",
            Assert.Throws<SharpLMException>(() => PretrainedModel.Load(dir.File("base-6"), adapter: dir.File("adapter"))).Message);
    }

    [Fact]
    public void AnAbsurdRankIsRefusedBeforeTheAdapterIsAllocated()
    {
        using var dir = new TempDirectory();
        using var model = SaveBase(dir.File("base"), seed: 5);
        SaveAdapter(dir.File("adapter"), model, dir.File("base"));
        string config = Path.Combine(dir.File("adapter"), AdapterFolder.ConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        json["r"] = 300_000;
        File.WriteAllText(config, json.ToJsonString());
        var e = Assert.Throws<SharpLMException>(() => AdapterFolder.Load(dir.File("adapter"), model));
        Assert.Contains(config, e.Message);
        Assert.Contains("r is 300000", e.Message);
    }
}
