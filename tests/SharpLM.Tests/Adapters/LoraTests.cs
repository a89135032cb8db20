using System.Text.Json.Nodes;
using SharpLM.Adapters;
using SharpLM.Data;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Training;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Adapters;

public class LoraTests
{
    static PretrainingDataset Data()
    {
        var rng = new Random(3);
        var docs = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 20).Select(_ => rng.Next(4, 64)).ToArray());
        return PretrainingDataset.Build(docs, 10, RowMode.Packed, 1, 2, 0);
    }

    static void TrainAFewSteps(SharpLM.Model.LlamaForCausalLM model, int steps = 5)
    {
        using var trainer = new Trainer(model, Data(), null,
            new TrainingOptions { BatchSize = 4, MaxSteps = steps, WarmupSteps = 1, LearningRate = 1e-2 });
        trainer.Run();
        model.eval();
    }

    [Fact]
    public void AtStepZeroTheAdaptedModelEqualsTheBase()
    {
        using var model = TestModels.Tiny();
        using var ids = TestModels.RandomIds(2, 9, 64);
        using var before = model.forward(ids);
        Lora.Apply(model, new LoraOptions(), seed: 1);
        model.eval();
        using var after = model.forward(ids);
        // Not bit for bit: with the base frozen, layers whose input needs no gradient multiply on SharpLM's prompt kernel,
        // the others (and, before, all) on libtorch's; the two sum in different orders.
        Assert.True(before.allclose(after, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void OnlyAdapterTensorsChangeAndOnlyTheyHaveOptimizerState()
    {
        using var model = TestModels.Tiny();
        var baseWeights = ModelFolder.BaseWeights(model).ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var trainable = Lora.Apply(model, new LoraOptions { Rank = 4 }, seed: 1);
        Assert.Equal(2 * 2 * 7, trainable.Count); // 2 layers x 7 projections x (A, B)
        Assert.All(trainable, e => Assert.Contains(".lora_", e.Name));
        var loraBefore = trainable.ToDictionary(e => e.Name, e => e.Parameter.clone());
        using var trainer = new Trainer(model, Data(), null,
            new TrainingOptions { BatchSize = 4, MaxSteps = 5, WarmupSteps = 1, LearningRate = 1e-2 });
        trainer.Run();
        foreach (var (name, tensor) in ModelFolder.BaseWeights(model))
            Assert.True(tensor.Equals(baseWeights[name]), $"{name} changed");
        Assert.Contains(trainable, e => !e.Parameter.Equals(loraBefore[e.Name]));
        Assert.All(trainer.Optimizer.StateTensors().Keys, k => Assert.Contains(".lora_", k));
    }

    [Fact]
    public void MergeEqualsBasePlusAdapter()
    {
        using var model = TestModels.Tiny();
        Lora.Apply(model, new LoraOptions { Rank = 4, Dropout = 0 }, seed: 2);
        TrainAFewSteps(model);
        using var ids = TestModels.RandomIds(2, 9, 64);
        using var noGrad = no_grad();
        using var adapted = model.forward(ids);
        Lora.Merge(model);
        Assert.Empty(Lora.Adapters(model));
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("lora"));
        using var merged = model.forward(ids);
        Assert.True((adapted - merged).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void AdapterSaveLoadRoundTripsWithPeftNamesAndConfig()
    {
        using var dir = new TempDirectory();
        using var model = TestModels.Tiny(seed: 5);
        var options = new LoraOptions { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj"] };
        Lora.Apply(model, options, seed: 3);
        TrainAFewSteps(model);
        using var ids = TestModels.RandomIds(1, 7, 64);
        using var expected = model.forward(ids);
        AdapterFolder.Save(dir.Path, model, options, "some/base");

        using (var file = SafetensorsFile.Open(Path.Combine(dir.Path, AdapterFolder.WeightsFile)))
        {
            var names = file.Entries.Select(e => e.Name).ToHashSet();
            Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", names);
            Assert.Contains("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", names);
            Assert.Equal(2 * 2 * 2, names.Count);
            Assert.Equal(new long[] { 4, 32 }, file.GetEntry("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").Shape);
        }
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, AdapterFolder.ConfigFile)))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", config["task_type"]!.GetValue<string>());
        Assert.Equal(4, config["r"]!.GetValue<int>());
        Assert.Equal(8.0, config["lora_alpha"]!.GetValue<double>());
        Assert.Equal(["q_proj", "v_proj"], config["target_modules"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("some/base", config["base_model_name_or_path"]!.GetValue<string>());

        using var fresh = TestModels.Tiny(seed: 5);
        AdapterFolder.Load(dir.Path, fresh);
        fresh.eval();
        using var actual = fresh.forward(ids);
        Assert.True(expected.Equals(actual));
    }

    [Fact]
    public void LoadingOntoTheWrongBaseFailsClearly()
    {
        using var dir = new TempDirectory();
        using var model = TestModels.Tiny(seed: 5);
        var options = new LoraOptions { Rank = 2 };
        Lora.Apply(model, options, seed: 1);
        AdapterFolder.Save(dir.Path, model, options, null);

        using var otherWeights = TestModels.Tiny(seed: 6);
        var e = Assert.Throws<SharpLMException>(() => AdapterFolder.Load(dir.Path, otherWeights));
        Assert.Contains("different base model", e.Message);
        Assert.Empty(Lora.Adapters(otherWeights));

        var bigger = TestModels.TinyConfig();
        bigger.HiddenSize = 48;
        using var wide = new SharpLM.Model.LlamaForCausalLM(bigger);
        var e2 = Assert.Throws<SharpLMException>(() => AdapterFolder.Load(dir.Path, wide, ignoreFingerprint: true));
        Assert.Contains("another base model", e2.Message);
    }

    [Theory]
    [InlineData("all-linear", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")]
    [InlineData(@".*\.(q_proj|v_proj)", "q_proj,v_proj")]
    [InlineData(@"model\.layers\.\d+\.mlp\..*|lm_head", "gate_proj,up_proj,down_proj,lm_head")]
    public void PeftsStringTargetModulesArePatternsOverWholeModuleNames(string pattern, string expected)
    {
        using var dir = new TempDirectory();
        dir.Write("adapter_config.json",
            new JsonObject { ["peft_type"] = "LORA", ["r"] = 4, ["lora_alpha"] = 8, ["target_modules"] = pattern }.ToJsonString());
        Assert.Equal(expected.Split(','), AdapterFolder.ReadConfig(dir.Path).Options.TargetModules);
    }

    [Theory]
    [InlineData(@"model\.layers\.(0|1)\.self_attn\.q_proj", "adapts q_proj in some layers only")]
    [InlineData(@".*\.embed_tokens", "matches none of SharpLM's projections")]
    [InlineData(@"(unclosed", "is not a valid regular expression")]
    [InlineData(@"(x+x+)+y", "matches none of SharpLM's projections")]
    [InlineData(@"(.*.*)*y", "matches none of SharpLM's projections")] // exponential for a backtracking engine
    public void PatternsSharpLMCannotHonourAreRefused(string pattern, string message)
    {
        using var dir = new TempDirectory();
        dir.Write("adapter_config.json", new JsonObject { ["peft_type"] = "LORA", ["r"] = 4, ["target_modules"] = pattern }.ToJsonString());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Contains(message, Assert.Throws<SharpLMException>(() => AdapterFolder.ReadConfig(dir.Path)).Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"refused only after {clock.Elapsed}");
    }

    [Fact]
    public void LayerSelectiveAdaptersAreRefused()
    {
        using var dir = new TempDirectory();
        dir.Write("adapter_config.json", new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = 4, ["target_modules"] = new JsonArray("q_proj"), ["layers_to_transform"] = new JsonArray(0, 1),
        }.ToJsonString());
        Assert.Contains("layers_to_transform", Assert.Throws<SharpLMException>(() => AdapterFolder.ReadConfig(dir.Path)).Message);
        dir.Write("adapter_config.json", new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = 4, ["target_modules"] = new JsonArray("q_proj"), ["layers_to_transform"] = null,
        }.ToJsonString());
        Assert.Equal(["q_proj"], AdapterFolder.ReadConfig(dir.Path).Options.TargetModules);
    }
}
