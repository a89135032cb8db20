using SharpLM.Adapters;
using SharpLM.Data;
using SharpLM.Hub;
using SharpLM.Training;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Adapters;

/// <summary>A LoRA fine-tune over a bf16 frozen base: the projections are stored in bf16, everything trained stays fp32,
/// the loss follows the fp32 base's within bf16's rounding, and the adapter loads on the fp32 base.</summary>
public sealed class FrozenBaseTests
{
    static ITrainingData Data()
    {
        var rng = new Random(3);
        var docs = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 20).Select(_ => rng.Next(4, 64)).ToArray());
        return PretrainingDataset.Build(docs, 10, RowMode.Packed, 1, 2, 0);
    }

    static List<double> TrainLora(SharpLM.Model.LlamaForCausalLM model)
    {
        Lora.Apply(model, new LoraOptions { Rank = 4 }, seed: 1);
        using var trainer = new Trainer(model, Data(), null,
            new TrainingOptions { BatchSize = 4, MaxSteps = 5, WarmupSteps = 1, LearningRate = 1e-2 });
        return [.. Enumerable.Range(0, 5).Select(step => trainer.TrainStep([(2 * step) % 8, (2 * step + 1) % 8, 4, 5]).Loss)];
    }

    [Fact]
    public void TheBaseIsBf16TheAdaptersFp32AndTheLossFollowsTheFp32Base()
    {
        using var reference = TestModels.Tiny(seed: 4);
        using var light = TestModels.Tiny(seed: 4);
        FrozenBase.Store(light, ScalarType.BFloat16);
        Assert.All(light.Projections(), p => Assert.Equal(ScalarType.BFloat16, p.Module.weight.dtype));
        Assert.Equal(ScalarType.Float32, light.model.embed_tokens.weight!.dtype);

        using var ids = TestModels.RandomIds(2, 9, 64);
        using (var a = reference.forward(ids))
        using (var b = light.forward(ids))
        {
            Assert.Equal(ScalarType.Float32, b.dtype);
            Assert.True((a - b).abs().max().item<float>() < 2e-2 * a.abs().max().item<float>());
        }

        var fp32Losses = TrainLora(reference);
        var bf16Losses = TrainLora(light);
        Assert.All(light.named_parameters().Where(p => p.parameter.requires_grad), p => Assert.Equal(ScalarType.Float32, p.parameter.dtype));
        Assert.All(fp32Losses.Zip(bf16Losses), p => Assert.Equal(p.First, p.Second, 1e-2 * p.First));
    }

    [Fact]
    public void TheAdapterLoadsOnTheFp32Base()
    {
        using var dir = new TempDirectory();
        using var light = TestModels.Tiny(seed: 6);
        FrozenBase.Store(light, ScalarType.BFloat16);
        TrainLora(light);
        AdapterFolder.Save(dir.Path, light, new LoraOptions { Rank = 4 }, null);

        using var fp32 = TestModels.Tiny(seed: 6);
        AdapterFolder.Load(dir.Path, fp32); // the fingerprint is taken in bf16, so the two bases agree
        fp32.eval();
        light.eval();
        using var ids = TestModels.RandomIds(1, 7, 64);
        using var expected = light.forward(ids);
        using var actual = fp32.forward(ids);
        Assert.True((expected - actual).abs().max().item<float>() < 2e-2 * expected.abs().max().item<float>());

        var e = Assert.Throws<SharpLMException>(() => FrozenBase.Store(fp32, ScalarType.BFloat16));
        Assert.Contains("before the LoRA adapters are attached", e.Message);
    }
}
