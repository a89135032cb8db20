using static TorchSharp.torch;

namespace SharpLM.Data;

/// <summary>
/// Fine-tuning examples as training batches. Each example is shifted on its own: inputs are <c>Ids[0..n-2]</c> and
/// the target at position t is <c>Ids[t+1]</c> when <c>Trained[t+1]</c>, else <see cref="TrainingBatch.IgnoreIndex"/>.
/// Without packing an item is one example, right-padded to the longest in its batch with an attention mask. With
/// packing an item is a row of whole examples (first-fit in input order) with segment ids and positions restarting
/// at 0 per example, so no example attends to another and no target crosses from one example into the next.
/// </summary>
public sealed class InstructionDataset : ITrainingData
{
    readonly List<TemplatedExample> examples;
    readonly IReadOnlyList<List<int>>? rows; // packing: example indices of each row

    InstructionDataset(List<TemplatedExample> examples, IReadOnlyList<List<int>>? rows, InstructionDatasetOptions options)
    {
        this.examples = examples;
        this.rows = rows;
        Options = options;
        Tokens = examples.Sum(e => (long)e.Ids.Length);
        TrainedTokens = examples.Sum(e => (long)e.TrainedTokens);
    }

    public InstructionDatasetOptions Options { get; }

    /// <summary>Items per epoch: examples, or packed rows.</summary>
    public int Count => rows?.Count ?? examples.Count;

    /// <summary>Examples kept (after truncation).</summary>
    public int Examples => examples.Count;

    /// <summary>Tokens of the kept examples (after truncation), padding not included.</summary>
    public long Tokens { get; }

    /// <summary>Targets that count in the loss.</summary>
    public long TrainedTokens { get; }

    /// <summary>Examples that were cut to fit and kept.</summary>
    public int Truncated { get; private init; }

    /// <summary>Examples left out: too long (with <see cref="Overflow.Drop"/>, or nothing trained left after
    /// truncation), or with nothing to train at all.</summary>
    public int Dropped { get; private init; }

    /// <summary>The kept examples, as truncated, in input order.</summary>
    public IReadOnlyList<TemplatedExample> Items => examples;

    /// <summary>Indices into <see cref="Items"/> of the examples in packed row <paramref name="row"/>
    /// (without packing, just <paramref name="row"/>).</summary>
    public IReadOnlyList<int> RowExamples(int row) => rows is null ? [row] : rows[row];

    public static InstructionDataset Build(IEnumerable<TemplatedExample> examples, InstructionDatasetOptions options)
    {
        if (options.MaxLength < 1) throw new SharpLMException($"the maximum length (MaxLength) must be at least 1 token, got {options.MaxLength}");
        var kept = new List<TemplatedExample>();
        int truncated = 0, dropped = 0;
        foreach (var example in examples)
        {
            if (example.Ids.Length != example.Trained.Length)
                throw new ArgumentException($"{example.Source}: {example.Ids.Length} ids but {example.Trained.Length} trained flags");
            var fitted = Fit(example, options, out bool wasCut);
            if (fitted is null)
            {
                dropped++;
                continue;
            }
            if (wasCut) truncated++;
            kept.Add(fitted);
        }
        if (kept.Count == 0)
            throw new SharpLMException($"no example is left to train on: {dropped} dropped"
                                       + (dropped > 0 ? $" (longer than the maximum length {options.MaxLength} or with nothing to train)" : ""));
        IReadOnlyList<List<int>>? rows = null;
        if (options.Packing)
        {
            var packer = new FirstFitPacker(options.MaxLength);
            for (int i = 0; i < kept.Count; i++) packer.Add(i, kept[i].Ids.Length - 1);
            rows = packer.Bins;
        }
        return new InstructionDataset(kept, rows, options) { Truncated = truncated, Dropped = dropped };
    }

    /// <summary>The example as the dataset keeps it: as is, cut to <c>MaxLength + 1</c> tokens
    /// (<paramref name="truncated"/>), or null when it is dropped (see <see cref="Dropped"/>).</summary>
    public static TemplatedExample? Fit(TemplatedExample example, InstructionDatasetOptions options, out bool truncated)
    {
        long limit = options.MaxLength + 1L; // long: a maximum length of int.MaxValue must not wrap around
        truncated = example.Ids.Length > limit;
        if (truncated && options.Overflow == Overflow.Drop) return null;
        var fitted = truncated ? example with { Ids = example.Ids[..(int)limit], Trained = example.Trained[..(int)limit] } : example;
        return fitted.Ids.Length >= 2 && fitted.Trained.AsSpan(1).Contains(true) ? fitted : null;
    }

    public TrainingBatch Collate(IReadOnlyList<int> indices) => rows is null ? CollatePadded(indices) : CollatePacked(indices);

    TrainingBatch CollatePadded(IReadOnlyList<int> indices)
    {
        int batch = indices.Count, seq = indices.Max(i => examples[i].Ids.Length - 1);
        var inputs = new long[batch * seq];
        var labels = new long[batch * seq];
        var mask = new long[batch * seq];
        Array.Fill(inputs, Options.PadId);
        Array.Fill(labels, TrainingBatch.IgnoreIndex);
        for (int b = 0; b < batch; b++)
        {
            int n = Write(examples[indices[b]], inputs, labels, b * seq);
            mask.AsSpan(b * seq, n).Fill(1);
        }
        return new TrainingBatch
        {
            InputIds = tensor(inputs, [batch, seq]),
            Labels = tensor(labels, [batch, seq]),
            AttentionMask = tensor(mask, [batch, seq]),
        };
    }

    TrainingBatch CollatePacked(IReadOnlyList<int> indices)
    {
        int batch = indices.Count, seq = indices.Max(RowLength);
        var inputs = new long[batch * seq];
        var labels = new long[batch * seq];
        var positions = new long[batch * seq];
        var segments = new long[batch * seq];
        var mask = new long[batch * seq];
        Array.Fill(inputs, Options.PadId);
        Array.Fill(labels, TrainingBatch.IgnoreIndex);
        bool padded = false;
        for (int b = 0; b < batch; b++)
        {
            var row = rows![indices[b]];
            int at = b * seq, end = at + seq;
            for (int s = 0; s < row.Count; s++)
            {
                int n = Write(examples[row[s]], inputs, labels, at);
                for (int t = 0; t < n; t++) positions[at + t] = t;
                segments.AsSpan(at, n).Fill(s);
                mask.AsSpan(at, n).Fill(1);
                at += n;
            }
            // Padding is a segment of its own, so real tokens never see it.
            for (int t = 0; at + t < end; t++) positions[at + t] = t;
            segments.AsSpan(at, end - at).Fill(row.Count);
            padded |= at < end;
        }
        return new TrainingBatch
        {
            InputIds = tensor(inputs, [batch, seq]),
            Labels = tensor(labels, [batch, seq]),
            PositionIds = tensor(positions, [batch, seq]),
            SegmentIds = tensor(segments, [batch, seq]),
            AttentionMask = padded ? tensor(mask, [batch, seq]) : null,
        };
    }

    int RowLength(int row) => rows![row].Sum(i => examples[i].Ids.Length - 1);

    /// <summary>Writes an example's shifted inputs and targets at <paramref name="at"/>; returns the positions used.</summary>
    static int Write(TemplatedExample example, long[] inputs, long[] labels, int at)
    {
        int n = example.Ids.Length - 1;
        for (int t = 0; t < n; t++)
        {
            inputs[at + t] = example.Ids[t];
            labels[at + t] = example.Trained[t + 1] ? example.Ids[t + 1] : TrainingBatch.IgnoreIndex;
        }
        return n;
    }
}
