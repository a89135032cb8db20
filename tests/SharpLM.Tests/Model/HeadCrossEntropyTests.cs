using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Tests.Model;

/// <summary>The LM head fused with the cross-entropy against libtorch's linear + cross_entropy: the summed loss and the
/// gradients of the hidden states and the weight, over several chunks of rows, with ignored labels, either side frozen, a
/// scaled output gradient, and without a graph.</summary>
public sealed class HeadCrossEntropyTests
{
    [Theory]
    [InlineData(2, 150, 64, 32768, 0.0, true, true)] // 128-row chunks: three of them, the last one short
    [InlineData(3, 40, 48, 1000, 0.3, true, true)] // a third of the labels ignored (prompts, padding)
    [InlineData(1, 90, 32, 4099, 0.0, false, true)] // hidden states that need no gradient
    [InlineData(2, 33, 64, 700, 0.5, true, false)] // a frozen head (LoRA's base): dHidden only
    [InlineData(1, 20, 16, 300, 1.0, true, true)] // every label ignored: the loss and the gradients are zero
    public void LossAndGradientsMatchLibtorch(int batch, int seq, int hidden, int vocabulary, double ignoredShare, bool hiddenGrad,
        bool weightGrad)
    {
        var generator = new Generator(11);
        using var h0 = randn(batch, seq, hidden, generator: generator);
        using var w0 = randn(vocabulary, hidden, generator: generator) * 0.2;
        using var labels = randint(vocabulary, [batch, seq], generator: generator);
        using var ignored = rand([batch, seq], generator: generator).lt(ignoredShare);
        labels.masked_fill_(ignored, TrainingBatch.IgnoreIndex);
        if (!HeadCrossEntropy.Applies(h0, w0)) return; // no AVX-512: the loss goes through the logits

        var (loss, dh, dw) = Run((h, w) => HeadCrossEntropy.Sum(h, w, labels, TrainingBatch.IgnoreIndex), h0, w0, hiddenGrad, weightGrad);
        var (lossRef, dhRef, dwRef) = Run((h, w) => F.cross_entropy(F.linear(h, w).view(-1, vocabulary), labels.view(-1),
            ignore_index: TrainingBatch.IgnoreIndex, reduction: nn.Reduction.Sum), h0, w0, hiddenGrad, weightGrad);
        Assert.Equal(lossRef, loss, 1e-5 * Math.Max(1, Math.Abs(lossRef)));
        Assert.Equal(hiddenGrad, dh is not null);
        Assert.Equal(weightGrad, dw is not null);
        if (hiddenGrad) Assert.True(dh!.allclose(dhRef!, rtol: 1e-4, atol: 1e-5), $"dHidden differs by {(dh - dhRef!).abs().max().item<float>()}");
        if (weightGrad) Assert.True(dw!.allclose(dwRef!, rtol: 1e-4, atol: 1e-5), $"dWeight differs by {(dw - dwRef!).abs().max().item<float>()}");

        using (no_grad())
        using (var withoutGraph = HeadCrossEntropy.Sum(h0, w0, labels, TrainingBatch.IgnoreIndex))
            Assert.Equal(lossRef, withoutGraph.item<float>(), 1e-5 * Math.Max(1, Math.Abs(lossRef)));
    }

    // The loss, then the gradients of loss / 3 (an output gradient other than 1, as a trainer's division by the units gives).
    static (double Loss, Tensor? Dh, Tensor? Dw) Run(Func<Tensor, Tensor, Tensor> loss, Tensor h0, Tensor w0, bool hiddenGrad, bool weightGrad)
    {
        var h = h0.clone().requires_grad_(hiddenGrad);
        var w = w0.clone().requires_grad_(weightGrad);
        var sum = loss(h, w);
        (sum / 3).backward();
        return (sum.item<float>(), h.grad, w.grad);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the head is the embedding, which gets both gradients
    public void ATrainingStepOfATinyModelGivesTheGradientsOfTheUnfusedLoss(bool tied)
    {
        using var model = TestModels.Tiny(tied: tied, seed: 5);
        using var batch = new TrainingBatch
        {
            InputIds = randint(model.Config.VocabSize, [2, 24], generator: new Generator(2)),
            Labels = randint(model.Config.VocabSize, [2, 24], generator: new Generator(3)),
        };
        Assert.NotNull(model.PlainHeadWeight);
        using var fused = LanguageModelLoss.Sum(model, batch);
        fused.backward();
        var fusedGradients = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        foreach (var p in model.parameters()) p.grad!.zero_();
        using var plain = LanguageModelLoss.OfLogits(model.forward(batch.InputIds), batch);
        plain.backward();
        Assert.Equal(plain.item<float>(), fused.item<float>(), 1e-3);
        foreach (var (name, p) in model.named_parameters())
            Assert.True(p.grad!.allclose(fusedGradients[name], rtol: 1e-4, atol: 1e-6), $"{name} differs");
    }
}
