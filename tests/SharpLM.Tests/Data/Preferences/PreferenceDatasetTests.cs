using SharpLM.Data;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Data.Preferences;

/// <summary>Pairs become batches of chosen rows then rejected rows, padded, with targets on the completions only;
/// over-long pairs are cut or dropped as a whole; stored reference log-probabilities travel with their rows.</summary>
public sealed class PreferenceDatasetTests
{
    // Ids 10.. are prompt tokens, 20.. chosen, 30.. rejected; the trained flags mark the completion.
    static PreferencePair Pair(int prompt, int chosen, int rejected)
    {
        static TemplatedExample Side(int prompt, int completion, int first) => new(
            [.. Enumerable.Range(10, prompt), .. Enumerable.Range(first, completion)],
            [.. Enumerable.Repeat(false, prompt), .. Enumerable.Repeat(true, completion)]) { Source = $"p{prompt}" };
        return new PreferencePair(Side(prompt, chosen, 20), Side(prompt, rejected, 30));
    }

    static long[][] Rows(Tensor t) => [.. Enumerable.Range(0, (int)t.shape[0]).Select(r => t[r].data<long>().ToArray())];

    [Fact]
    public void ABatchIsTheChosenRowsThenTheRejectedOnesWithCompletionTargets()
    {
        var data = PreferenceDataset.Build([Pair(2, 2, 1), Pair(3, 1, 2)], new InstructionDatasetOptions { MaxLength = 16, PadId = 0 });
        Assert.Equal(2, data.Count);
        using var batch = data.Collate([1, 0]);
        const long x = TrainingBatch.IgnoreIndex;
        Assert.Equal([[10, 11, 12, 0], [10, 11, 20, 0], [10, 11, 12, 30], [10, 11, 0, 0]], Rows(batch.InputIds));
        Assert.Equal([[x, x, 20, x], [x, 20, 21, x], [x, x, 30, 31], [x, 30, x, x]], Rows(batch.Labels));
        Assert.Equal([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]], Rows(batch.AttentionMask!));
        Assert.Null(batch.ReferenceLogps);

        data.SetReferenceLogps([-1.5, -2.5], [-3.5, -4.5]);
        using var withReference = data.Collate([1, 0]);
        Assert.Equal([-2.5, -1.5, -4.5, -3.5], withReference.ReferenceLogps!.data<double>().ToArray());
    }

    [Fact]
    public void APairGoesWholeWhenOneSideHasNoCompletionLeft()
    {
        var options = new InstructionDatasetOptions { MaxLength = 4, PadId = 0 };
        var data = PreferenceDataset.Build([Pair(2, 1, 1), Pair(2, 2, 6), Pair(5, 1, 1)], options);
        Assert.Equal(2, data.Count);
        Assert.Equal(1, data.Truncated); // the long rejected side is cut to 5 tokens
        Assert.Equal(1, data.Dropped); // the prompt fills the whole row
        Assert.Equal(5, data.Items[1].Rejected.Ids.Length);
        Assert.Equal(1, PreferenceDataset.Build([Pair(2, 2, 6), Pair(2, 1, 1)], options with { Overflow = Overflow.Drop }).Count);
        Assert.Equal("preference pairs are not packed (Packing): each side is a row of its own",
            Assert.Throws<SharpLMException>(() => PreferenceDataset.Build([Pair(2, 1, 1)], options with { Packing = true })).Message);
    }
}
