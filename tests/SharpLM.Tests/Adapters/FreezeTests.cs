using SharpLM.Adapters;
using SharpLM.Data;
using SharpLM.Training;
using Xunit;

namespace SharpLM.Tests.Adapters;

public class FreezeTests
{
    [Fact]
    public void TrainsOnlyTheChosenParameters()
    {
        using var model = TestModels.Tiny();
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
        var trainable = Freeze.Apply(model, new FreezeOptions { LastLayers = 1, Modules = ["lm_head"] });
        Assert.Equal(9 + 1, trainable.Count); // layer 1's nine tensors and the head
        var rng = new Random(1);
        var docs = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 20).Select(_ => rng.Next(4, 64)).ToArray());
        using var trainer = new Trainer(model, PretrainingDataset.Build(docs, 10, RowMode.Packed, 1, 2, 0), null,
            new TrainingOptions { BatchSize = 4, MaxSteps = 3, WarmupSteps = 1, LearningRate = 1e-2 });
        trainer.Run();
        foreach (var (name, p) in model.named_parameters())
        {
            bool shouldChange = name.StartsWith("model.layers.1.") || name == "lm_head.weight";
            Assert.True(shouldChange != p.Equals(before[name]), $"{name}: expected {(shouldChange ? "changed" : "unchanged")}");
        }
    }

    [Fact]
    public void RejectsEmptyOrUnknownChoices()
    {
        using var model = TestModels.Tiny();
        Assert.Throws<SharpLMException>(() => Freeze.Apply(model, new FreezeOptions()));
        Assert.Contains("attn_q", Assert.Throws<SharpLMException>(() => Freeze.Apply(model, new FreezeOptions { Modules = ["attn_q"] })).Message);
        Assert.Throws<SharpLMException>(() => Freeze.Apply(model, new FreezeOptions { LastLayers = 3 }));
    }
}
