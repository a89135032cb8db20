using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>Rows for added tokens: the old rows stay bit for bit, the new ones start at the mean of the rows before
/// them, the matrices grow only when needed, and the model then runs on the new ids.</summary>
public sealed class AddedTokenRowsTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GrowingKeepsOldRowsAndStartsNewOnesAtTheMean(bool tied)
    {
        using var model = TestModels.Tiny(vocab: 64, tied: tied);
        using var embedBefore = model.model.embed_tokens.weight!.clone();
        using var headBefore = model.lm_head?.weight.clone();
        new AddedTokenRows(FirstId: 64, Count: 2, BaseVocabSize: 64).ApplyTo(model);

        Assert.Equal(66, model.Config.VocabSize);
        var embed = model.model.embed_tokens.weight!;
        Assert.Equal([66L, 32L], embed.shape);
        Assert.True(embed.narrow(0, 0, 64).eq(embedBefore).all().item<bool>());
        Assert.True(embed[64].allclose(embedBefore.mean([0])));
        Assert.True(embed[65].eq(embed[64]).all().item<bool>());
        if (!tied)
        {
            Assert.Equal(66L, model.lm_head!.OutFeatures);
            Assert.True(model.lm_head.weight.narrow(0, 0, 64).eq(headBefore!).all().item<bool>());
            Assert.True(model.lm_head.weight[65].allclose(headBefore!.mean([0])));
        }
        using var logits = model.forward(tensor(new long[] { 1, 64, 5, 65 }).view(1, -1));
        Assert.Equal([1L, 4L, 66L], logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }

    [Fact]
    public void IdsWithinAPaddedVocabularyReuseItsRowsAndTrainingReachesThem()
    {
        using var model = TestModels.Tiny(vocab: 64);
        using var before = model.model.embed_tokens.weight!.narrow(0, 0, 60).mean([0]);
        new AddedTokenRows(FirstId: 60, Count: 2, BaseVocabSize: 64).ApplyTo(model);
        Assert.Equal(64, model.Config.VocabSize);
        Assert.True(model.model.embed_tokens.weight![61].allclose(before));

        // The grown parameters are the module's own: gradients reach the new rows.
        model.train();
        using var grown = TestModels.Tiny(vocab: 64);
        new AddedTokenRows(64, 2, 64).ApplyTo(grown);
        using var loss = grown.forward(tensor(new long[] { 1, 64, 65 }).view(1, -1)).sum();
        loss.backward();
        Assert.True(grown.model.embed_tokens.weight!.grad!.narrow(0, 64, 2).abs().sum().item<float>() > 0);
        Assert.Equal([66L, 32L], grown.lm_head!.weight.grad!.shape);
    }

    [Fact]
    public void AModelOfAnotherSizeIsRefused()
    {
        using var model = TestModels.Tiny(vocab: 64);
        var e = Assert.Throws<SharpLMException>(() => new AddedTokenRows(70, 2, BaseVocabSize: 70).ApplyTo(model));
        Assert.Contains("vocab_size is 64, not the 70", e.Message);
    }
}
