using SharpLM.Adapters;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using SharpLM.Training;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Training;

/// <summary>Recomputing each layer in the backward pass gives the plain backward pass's loss and gradients: on packed
/// rows (block-causal masks), on padded rows, with LoRA dropout (whose masks must be drawn again the same), and in the
/// trainer.</summary>
[Collection(GlobalRandomCollection.Name)]
public sealed class GradientCheckpointingTests
{
    static ITrainingData Packed()
    {
        var rng = new Random(4);
        var docs = Enumerable.Range(0, 12).Select(_ => Enumerable.Range(0, rng.Next(3, 14)).Select(_ => rng.Next(4, 64)).ToArray());
        return PretrainingDataset.Build(docs, 16, RowMode.Packed, 1, 2, 0);
    }

    static ITrainingData Padded()
    {
        var rng = new Random(5);
        var examples = Enumerable.Range(0, 6).Select(i =>
        {
            var ids = Enumerable.Range(0, 5 + 2 * i).Select(_ => rng.Next(4, 64)).ToArray();
            return new TemplatedExample(ids, ids.Select((_, j) => j >= 3).ToArray());
        });
        return InstructionDataset.Build(examples, new InstructionDatasetOptions { MaxLength = 32, PadId = 0 });
    }

    static Dictionary<string, Tensor> Gradients(LlamaForCausalLM model) =>
        model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone());

    static void AssertSame(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, g) in expected)
        {
            double scale = g.abs().max().item<float>(), difference = (g - actual[name]).abs().max().item<float>();
            Assert.True(difference <= 1e-6 * Math.Max(scale, 1e-3), $"{name}: max |difference| {difference} for gradients up to {scale}");
        }
    }

    [Theory]
    [InlineData("packed", false)]
    [InlineData("padded", false)]
    [InlineData("packed", true)]
    public void TheGradientsAreThePlainBackwardPasses(string rows, bool loraWithDropout)
    {
        var data = rows == "packed" ? Packed() : Padded();
        using var batch = data.Collate([0, 1, 2, 3]);
        long targets = batch.TargetTokens;
        using var plain = TestModels.Tiny(seed: 3);
        using var checkpointed = TestModels.Tiny(seed: 3);
        foreach (var model in new[] { plain, checkpointed })
        {
            if (loraWithDropout) Lora.Apply(model, new LoraOptions { Rank = 4, Dropout = 0.2 }, seed: 1);
            model.train();
        }

        manual_seed(11);
        using var sum = LanguageModelLoss.Sum(plain, batch);
        (sum / targets).backward();
        using var stateAfterPlain = get_rng_state();
        manual_seed(11);
        float loss = GradientCheckpointing.Backward(checkpointed, batch, targets);
        using var stateAfterCheckpointed = get_rng_state();

        Assert.Equal(sum.item<float>(), loss, 1e-5f * Math.Abs(loss));
        AssertSame(Gradients(plain), Gradients(checkpointed));
        Assert.True(stateAfterPlain.eq(stateAfterCheckpointed).all().item<bool>()); // later random draws are unchanged too
    }

    [Fact]
    public void TheTrainerTakesTheSameSteps()
    {
        var losses = new List<double>[2];
        foreach (var (checkpointing, i) in new[] { (false, 0), (true, 1) })
        {
            using var model = TestModels.Tiny(seed: 2);
            using var trainer = new Trainer(model, Packed(), null, new TrainingOptions
            {
                BatchSize = 4, MicroBatchSize = 2, MaxSteps = 3, WarmupSteps = 1, LearningRate = 1e-2, GradientCheckpointing = checkpointing,
            });
            losses[i] = [];
            foreach (var step in Enumerable.Range(0, 3)) losses[i].Add(trainer.TrainStep([4 * step % 8, 4 * step % 8 + 1, 2, 3]).Loss);
        }
        Assert.All(losses[0].Zip(losses[1]), p => Assert.Equal(p.First, p.Second, 1e-6 * Math.Abs(p.First)));
    }
}
