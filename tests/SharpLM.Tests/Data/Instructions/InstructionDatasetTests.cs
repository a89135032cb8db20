using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Evaluation;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Data.Instructions;

public class InstructionDatasetTests
{
    const long I = TrainingBatch.IgnoreIndex;

    static TemplatedExample Example(int[] ids, string trained) => new(ids, trained.Select(c => c == 'T').ToArray());

    static long[] Values(Tensor t) => t.data<long>().ToArray();

    [Fact]
    public void PaddedBatchShiftsLabelsMasksPaddingAndPrompts()
    {
        var dataset = InstructionDataset.Build(
        [
            Example([1, 10, 11, 12, 2], "FFFTT"),
            Example([1, 20, 2], "FTT"),
        ], new InstructionDatasetOptions { MaxLength = 8, PadId = 0 });

        using var batch = dataset.Collate([0, 1]);
        Assert.Equal([2L, 4], batch.InputIds.shape);
        Assert.Equal([1L, 10, 11, 12, 1, 20, 0, 0], Values(batch.InputIds));
        Assert.Equal([I, I, 12, 2, 20, 2, I, I], Values(batch.Labels));
        Assert.Equal([1L, 1, 1, 1, 1, 1, 0, 0], Values(batch.AttentionMask!));
        Assert.Null(batch.SegmentIds);
        Assert.Null(batch.PositionIds);
        Assert.Equal(4, batch.TargetTokens);

        using var single = dataset.Collate([1]);
        Assert.Equal([1L, 20], Values(single.InputIds));
        Assert.Equal([1L, 1], Values(single.AttentionMask!));
        Assert.Equal((2, 2, 8L, 4L), (dataset.Count, dataset.Examples, dataset.Tokens, dataset.TrainedTokens));
    }

    [Fact]
    public void PackedRowsKeepExamplesApart()
    {
        var dataset = InstructionDataset.Build(
        [
            Example([1, 10, 11, 2], "FFTT"),     // 3 positions
            Example([1, 20, 2], "FTT"),          // 2
            Example([1, 30, 31, 32, 2], "FFFTT"), // 4: no room left in row 0
            Example([1, 40], "FT"),              // 1: fills row 0 (first fit)
        ], new InstructionDatasetOptions { MaxLength = 6, Packing = true, PadId = 0 });

        Assert.Equal(2, dataset.Count);
        Assert.Equal([0, 1, 3], dataset.RowExamples(0));
        Assert.Equal([2], dataset.RowExamples(1));
        using var batch = dataset.Collate([0, 1]);
        Assert.Equal([1L, 10, 11, 1, 20, 1, /**/ 1, 30, 31, 32, 0, 0], Values(batch.InputIds));
        // The last target of each example is its own end token, never the next example's first token.
        Assert.Equal([I, 11, 2, 20, 2, 40, /**/ I, I, 32, 2, I, I], Values(batch.Labels));
        Assert.Equal([0L, 1, 2, 0, 1, 0, /**/ 0, 1, 2, 3, 0, 1], Values(batch.PositionIds!));
        Assert.Equal([0L, 0, 0, 1, 1, 2, /**/ 0, 0, 0, 0, 1, 1], Values(batch.SegmentIds!));
        Assert.Equal([1L, 1, 1, 1, 1, 1, /**/ 1, 1, 1, 1, 0, 0], Values(batch.AttentionMask!));

        using var full = dataset.Collate([0]);
        Assert.Null(full.AttentionMask);
        Assert.Equal([0L, 0, 0, 1, 1, 2], Values(full.SegmentIds!));
    }

    [Fact]
    public void PackedAndPaddedBatchesGiveTheSameLoss()
    {
        var tokenizer = new TestByteTokenizer();
        var template = new PartsChatTemplate("short", "{content}\n", "Q:{content}\n", "A:", "", endWithEos: true);
        var examples = Enumerable.Range(0, 6).Select(i => TemplatedExample.FromConversation(new Conversation(
            [new("user", new string('q', 1 + 3 * i)), new("assistant", new string('a', 1 + (5 * i) % 7))]), template, tokenizer)).ToList();
        var padded = InstructionDataset.Build(examples, new InstructionDatasetOptions { MaxLength = 64 });
        var packed = InstructionDataset.Build(examples, new InstructionDatasetOptions { MaxLength = 64, Packing = true });
        Assert.True(packed.Count < padded.Count);

        using var model = TestModels.Tiny(vocab: tokenizer.VocabSize);
        using var noGrad = no_grad();
        double Loss(InstructionDataset data)
        {
            using var batch = data.Collate(Enumerable.Range(0, data.Count).ToArray());
            using var sum = LanguageModelLoss.Sum(model, batch);
            return sum.item<float>();
        }
        Assert.True(Loss(padded) > 1);
        Assert.Equal(Loss(padded), Loss(packed), 3);
    }

    [Fact]
    public void TruncationCutsTheEndAndDropsExamplesWithNothingLeftToTrain()
    {
        TemplatedExample[] examples =
        [
            Example([1, 10, 11, 12, 13, 2], "FFTTTT"), // cut to 4 tokens, 2 trained left
            Example([1, 10, 11, 12, 13, 2], "FFFFTT"), // nothing trained in the first 4: dropped
            Example([1, 5, 2], "FTT"),                 // fits
            Example([1, 5, 2], "FFF"),                 // nothing to train: dropped
            Example([1], "F"),                         // no target at all: dropped
        ];
        var truncated = InstructionDataset.Build(examples, new InstructionDatasetOptions { MaxLength = 3 });
        Assert.Equal((2, 1, 3, 7L, 4L), (truncated.Examples, truncated.Truncated, truncated.Dropped, truncated.Tokens, truncated.TrainedTokens));
        Assert.Equal([1, 10, 11, 12], truncated.Items[0].Ids);
        using var batch = truncated.Collate([0]);
        Assert.Equal([I, 11, 12], Values(batch.Labels));

        var dropped = InstructionDataset.Build(examples, new InstructionDatasetOptions { MaxLength = 3, Overflow = Overflow.Drop });
        Assert.Equal((1, 0, 4), (dropped.Examples, dropped.Truncated, dropped.Dropped));
        Assert.Equal([1, 5, 2], dropped.Items[0].Ids);
    }

    [Fact]
    public void NothingLeftOrBadLengthFails()
    {
        Assert.Equal("no example is left to train on: 1 dropped (longer than the maximum length 2 or with nothing to train)",
            Assert.Throws<SharpLMException>(() => InstructionDataset.Build(
                [Example([1, 2, 3, 4], "FFFT")], new InstructionDatasetOptions { MaxLength = 2, Overflow = Overflow.Drop })).Message);
        Assert.Contains("at least 1", Assert.Throws<SharpLMException>(() =>
            InstructionDataset.Build([Example([1, 2], "FT")], new InstructionDatasetOptions { MaxLength = 0 })).Message);
    }

    [Fact]
    public void FirstFitPackerMatchesTheObviousAlgorithm()
    {
        var random = new Random(3);
        var sizes = Enumerable.Range(0, 2000).Select(_ => random.Next(1, 51)).ToArray();
        var packer = new FirstFitPacker(50);
        var free = new List<int>();
        var expected = new List<List<int>>();
        for (int i = 0; i < sizes.Length; i++)
        {
            packer.Add(i, sizes[i]);
            int bin = free.FindIndex(f => f >= sizes[i]);
            if (bin < 0)
            {
                free.Add(50);
                expected.Add([]);
                bin = free.Count - 1;
            }
            free[bin] -= sizes[i];
            expected[bin].Add(i);
        }
        Assert.Equal(expected, packer.Bins);
    }
}
