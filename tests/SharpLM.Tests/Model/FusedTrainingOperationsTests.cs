using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>A tiny model's training step with <see cref="FusedRmsNorm"/>, <see cref="FusedSwiGlu"/> and <see cref="FusedRope"/> against the same
/// step on libtorch's composed steps: every parameter's gradient.</summary>
public sealed class FusedTrainingOperationsTests
{
    [Theory]
    [InlineData("llama")]
    [InlineData("qwen3")] // an RMSNorm over each query and key head too
    public void ATinyModelsGradientsMatchTheUnfusedOnes(string family)
    {
        var config = TestModels.TinyConfig();
        config.ModelType = family;
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(4);
        using var batch = new TrainingBatch
        {
            // 150 rows: the norms and the gating split over two threads, a block of the weight's partial sums cut short.
            InputIds = randint(config.VocabSize, [3, 50], generator: new Generator(2)),
            Labels = randint(config.VocabSize, [3, 50], generator: new Generator(3)),
        };
        var fused = Gradients(model, batch);
        FusedRmsNorm.Enabled = FusedSwiGlu.Enabled = FusedRope.Enabled = false;
        Dictionary<string, Tensor> unfused;
        try
        {
            unfused = Gradients(model, batch);
        }
        finally
        {
            FusedRmsNorm.Enabled = FusedSwiGlu.Enabled = FusedRope.Enabled = true;
        }
        foreach (var (name, gradient) in unfused) FusedRmsNormTests.AssertClose(fused[name], gradient, name);
        // The fused operations round differently from libtorch's steps: identical gradients would mean they did not run.
        Assert.Contains(unfused, p => !p.Value.eq(fused[p.Key]).all().item<bool>());
    }

    static Dictionary<string, Tensor> Gradients(LlamaForCausalLM model, TrainingBatch batch)
    {
        foreach (var p in model.parameters()) p.grad = null;
        using (var loss = LanguageModelLoss.Sum(model, batch)) loss.backward();
        return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
    }
}
