using SharpLM.Data;
using SharpLM.Model;
using SharpLM.Training;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>NEFTune's noise: uniform within ±alpha / sqrt(seq * hidden), only in training mode, and set up by the
/// trainer from its options.</summary>
[Collection(GlobalRandomCollection.Name)]
public sealed class EmbeddingNoiseTests
{
    [Fact]
    public void TheNoiseIsUniformWithinThePapersBound()
    {
        manual_seed(3);
        using var embeddings = zeros(4, 64, 256);
        using var noisy = EmbeddingNoise.Add(embeddings, alpha: 5);
        double bound = 5 / Math.Sqrt(64 * 256);
        Assert.True(noisy.abs().max().item<float>() <= bound);
        Assert.True(noisy.abs().max().item<float>() > 0.99 * bound);
        Assert.True(Math.Abs(noisy.mean().item<float>()) < 0.01 * bound);
        Assert.InRange(noisy.std().item<float>(), 0.98 * bound / Math.Sqrt(3), 1.02 * bound / Math.Sqrt(3)); // uniform's spread
    }

    [Fact]
    public void OnlyTrainingModeSeesIt()
    {
        using var model = TestModels.Tiny();
        using var ids = TestModels.RandomIds(2, 9, 64);
        using var clean = model.forward(ids);
        model.model.NeftuneAlpha = 5;
        using (var evaluated = model.forward(ids)) Assert.True(evaluated.Equals(clean));
        model.train();
        using (var trained = model.forward(ids)) Assert.False(trained.allclose(clean));
        model.model.NeftuneAlpha = 0;
        using (var plain = model.forward(ids)) Assert.True(plain.allclose(clean)); // no other randomness in training mode
    }

    [Fact]
    public void TheTrainerSetsItAndLeavesTheModelEvaluating()
    {
        using var model = TestModels.Tiny();
        var rng = new Random(1);
        var docs = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 20).Select(_ => rng.Next(4, 64)).ToArray());
        using var trainer = new Trainer(model, PretrainingDataset.Build(docs, 10, RowMode.Packed, 1, 2, 0), null,
            new TrainingOptions { BatchSize = 4, MaxSteps = 2, WarmupSteps = 1, NeftuneAlpha = 5 });
        Assert.Equal(5, model.model.NeftuneAlpha);
        trainer.Run();
        Assert.False(model.training);
        var e = Assert.Throws<SharpLMException>(() => new TrainingOptions { NeftuneAlpha = -1 }.Validate());
        Assert.Contains("NeftuneAlpha must be", e.Message);
    }
}
