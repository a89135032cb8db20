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
    [InlineData(2, 600, 64, 32768, 0.0, true, true, false)] // 512-row chunks: three of them, the last one short
    [InlineData(3, 40, 48, 1000, 0.3, true, true, false)] // a third of the labels ignored (prompts, padding)
    [InlineData(1, 90, 32, 4099, 0.0, false, true, false)] // hidden states that need no gradient
    [InlineData(2, 33, 64, 700, 0.5, true, false, false)] // a frozen head (LoRA's base): dHidden only
    [InlineData(1, 20, 16, 300, 1.0, true, true, false)] // every label ignored: the loss and the gradients are zero
    [InlineData(2, 600, 64, 32768, 0.0, true, true, true)] // bf16 matmuls over fp32 weights, in libtorch
    [InlineData(3, 40, 48, 1000, 0.3, true, true, true)]
    [InlineData(2, 33, 64, 700, 0.5, true, false, true)]
    [InlineData(2, 600, 64, 32768, 0.0, true, true, true, true)] // bf16 on SharpLM's fp32 kernels, over rounded operands
    [InlineData(3, 40, 48, 1000, 0.3, true, true, true, true)]
    [InlineData(1, 90, 32, 4099, 0.0, false, true, true, true)]
    public void LossAndGradientsMatchLibtorch(int batch, int seq, int hidden, int vocabulary, double ignoredShare, bool hiddenGrad,
        bool weightGrad, bool bf16, bool bf16OnKernels = false)
    {
        var generator = new Generator(11);
        using var h0 = randn(batch, seq, hidden, generator: generator);
        using var w0 = randn(vocabulary, hidden, generator: generator) * 0.2;
        using var labels = randint(vocabulary, [batch, seq], generator: generator);
        using var ignored = rand([batch, seq], generator: generator).lt(ignoredShare);
        labels.masked_fill_(ignored, TrainingBatch.IgnoreIndex);
        var compute = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        if (!HeadCrossEntropy.Applies(h0, w0, compute, bf16OnKernels)) return; // no AVX-512: the loss goes through the logits

        var (loss, dh, dw) = Run((h, w) => HeadCrossEntropy.Sum(h, w, compute, labels, TrainingBatch.IgnoreIndex, bf16OnKernels), h0, w0,
            hiddenGrad, weightGrad);
        // The unfused head as Projection runs it in the compute type, then libtorch's cross-entropy of fp32 logits.
        var (lossRef, dhRef, dwRef) = Run((h, w) => F.cross_entropy(F.linear(h.to(compute), w.to(compute)).to(float32).view(-1, vocabulary),
            labels.view(-1), ignore_index: TrainingBatch.IgnoreIndex, reduction: nn.Reduction.Sum), h0, w0, hiddenGrad, weightGrad);
        Assert.Equal(lossRef, loss, (bf16 ? 1e-3 : 1e-5) * Math.Max(1, Math.Abs(lossRef)));
        Assert.Equal(hiddenGrad, dh is not null);
        Assert.Equal(weightGrad, dw is not null);
        if (hiddenGrad) AssertClose(dh!, dhRef!, bf16, "dHidden");
        if (weightGrad) AssertClose(dw!, dwRef!, bf16, "dWeight");

        using (no_grad())
        using (var withoutGraph = HeadCrossEntropy.Sum(h0, w0, compute, labels, TrainingBatch.IgnoreIndex, bf16OnKernels))
            Assert.Equal(lossRef, withoutGraph.item<float>(), (bf16 ? 1e-3 : 1e-5) * Math.Max(1, Math.Abs(lossRef)));
    }

    /// <summary>fp32: element by element. bf16: within 1 % of the largest gradient, as rounding to bf16 (8 bits) leaves an error of
    /// the size of the largest terms summed, however small their sum; the reference also rounds the weight's gradient to bf16,
    /// which the fused head sums in fp32.</summary>
    static void AssertClose(Tensor actual, Tensor expected, bool bf16, string name)
    {
        float difference = (actual - expected).abs().max().item<float>(), scale = expected.abs().max().item<float>();
        Assert.True(bf16 ? difference <= 1e-2 * scale : actual.allclose(expected, rtol: 1e-4, atol: 1e-5),
            $"{name} differs by {difference} (largest {scale})");
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
    [InlineData(false, false)]
    [InlineData(true, false)] // the head is the embedding, which gets both gradients
    [InlineData(false, true)] // bf16 matmuls over fp32 weights
    [InlineData(false, true, true)] // bf16 on SharpLM's fp32 kernels, the unfused head too
    public void ATrainingStepOfATinyModelGivesTheGradientsOfTheUnfusedLoss(bool tied, bool bf16, bool bf16OnKernels = false)
    {
        using var model = TestModels.Tiny(tied: tied, seed: 5);
        if (bf16) model.SetComputeType(ScalarType.BFloat16, bf16OnKernels);
        using var batch = new TrainingBatch
        {
            InputIds = randint(model.Config.VocabSize, [2, 24], generator: new Generator(2)),
            Labels = randint(model.Config.VocabSize, [2, 24], generator: new Generator(3)),
        };
        Assert.NotNull(model.PlainHead);
        using var fused = LanguageModelLoss.Sum(model, batch);
        fused.backward();
        var fusedGradients = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        foreach (var p in model.parameters()) p.grad!.zero_();
        using var plain = LanguageModelLoss.OfLogits(model.forward(batch.InputIds), batch);
        plain.backward();
        Assert.Equal(plain.item<float>(), fused.item<float>(), 1e-3);
        foreach (var (name, p) in model.named_parameters())
            AssertClose(fusedGradients[name], p.grad!, bf16, name);
    }
}
