using static TorchSharp.torch;

namespace SharpLM.Data;

/// <summary>
/// Preference pairs as training batches. A batch of N pairs has 2N rows, the N chosen completions first and then the N
/// rejected ones, in the same order (so both go through the model in one forward pass), each row shifted and padded as
/// <see cref="InstructionDataset"/> pads, with targets on the completion's tokens only. When reference log-probabilities
/// were stored (<see cref="SetReferenceLogps"/>), the batch carries them as <see cref="TrainingBatch.ReferenceLogps"/>.
/// </summary>
public sealed class PreferenceDataset : ITrainingData
{
    readonly List<PreferencePair> pairs;
    readonly InstructionDataset rows; // the chosen rows, then the rejected ones
    double[]? referenceLogps; // per row of `rows`

    PreferenceDataset(List<PreferencePair> pairs, InstructionDataset rows, InstructionDatasetOptions options)
    {
        this.pairs = pairs;
        this.rows = rows;
        Options = options;
    }

    public InstructionDatasetOptions Options { get; }

    /// <summary>Pairs per epoch.</summary>
    public int Count => pairs.Count;

    /// <summary>The kept pairs, as truncated, in input order.</summary>
    public IReadOnlyList<PreferencePair> Items => pairs;

    /// <summary>Tokens of both sides of the kept pairs, padding not included.</summary>
    public long Tokens => rows.Tokens;

    /// <summary>Completion tokens (the targets) of both sides.</summary>
    public long TrainedTokens => rows.TrainedTokens;

    /// <summary>Pairs with a side cut to fit and kept.</summary>
    public int Truncated { get; private init; }

    /// <summary>Pairs left out: a side too long (with <see cref="Overflow.Drop"/>, or no completion token left after
    /// truncation).</summary>
    public int Dropped { get; private init; }

    /// <summary>Whether <see cref="SetReferenceLogps"/> has stored the reference model's log-probabilities.</summary>
    public bool HasReferenceLogps => referenceLogps is not null;

    /// <exception cref="SharpLMException">packing is asked for (pairs are compared row by row), or no pair is left</exception>
    public static PreferenceDataset Build(IEnumerable<PreferencePair> pairs, InstructionDatasetOptions options)
    {
        if (options.Packing) throw new SharpLMException("preference pairs are not packed (Packing): each side is a row of its own");
        if (options.MaxLength < 1) throw new SharpLMException($"the maximum length (MaxLength) must be at least 1 token, got {options.MaxLength}");
        var kept = new List<PreferencePair>();
        int truncated = 0, dropped = 0;
        foreach (var pair in pairs)
        {
            var chosen = InstructionDataset.Fit(pair.Chosen, options, out bool chosenCut);
            var rejected = InstructionDataset.Fit(pair.Rejected, options, out bool rejectedCut);
            if (chosen is null || rejected is null)
            {
                dropped++;
                continue;
            }
            if (chosenCut || rejectedCut) truncated++;
            kept.Add(new PreferencePair(chosen, rejected));
        }
        if (kept.Count == 0)
            throw new SharpLMException($"no preference pair is left to train on: {dropped} dropped (a side longer than the maximum length " +
                                       $"{options.MaxLength}, or with no completion token)");
        var rows = InstructionDataset.Build([.. kept.Select(p => p.Chosen), .. kept.Select(p => p.Rejected)], options);
        return new PreferenceDataset(kept, rows, options) { Truncated = truncated, Dropped = dropped };
    }

    /// <summary>Stores the reference model's summed completion log-probabilities of every pair, so that training needs no
    /// reference model: <paramref name="chosen"/>[i] and <paramref name="rejected"/>[i] are pair i's.</summary>
    public void SetReferenceLogps(IReadOnlyList<double> chosen, IReadOnlyList<double> rejected)
    {
        if (chosen.Count != Count || rejected.Count != Count)
            throw new ArgumentException($"{Count} pairs but {chosen.Count} chosen and {rejected.Count} rejected log-probabilities");
        referenceLogps = [.. chosen, .. rejected];
    }

    public TrainingBatch Collate(IReadOnlyList<int> indices)
    {
        int[] both = [.. indices, .. indices.Select(i => i + Count)];
        var batch = rows.Collate(both);
        if (referenceLogps is null) return batch;
        return new TrainingBatch
        {
            InputIds = batch.InputIds,
            Labels = batch.Labels,
            AttentionMask = batch.AttentionMask,
            ReferenceLogps = tensor(both.Select(i => referenceLogps[i]).ToArray()),
        };
    }
}
