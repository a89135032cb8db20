using static TorchSharp.torch;

namespace SharpLM.Data;

/// <summary>How documents become fixed-length pretraining rows.</summary>
public enum RowMode
{
    /// <summary>Documents joined as <c>[BOT] text [EOT] [BOT] text [EOT]...</c> and cut into full rows: no padding,
    /// every token is trained on (the default, and how large models are pretrained).</summary>
    Packed,

    /// <summary>The tutorial's rows: one document per row, <c>[BOT] text [EOT]</c> padded with [PAD] or cut to
    /// seq_len + 1 tokens (the rest of a long document is dropped); padding is not trained on.</summary>
    Padded,
}

/// <summary>Next-token pretraining rows of seq_len + 1 tokens each: inputs are the first seq_len, targets the last.</summary>
public sealed class PretrainingDataset : ITrainingData
{
    readonly int[] tokens; // rows laid out back to back; in packed mode consecutive rows overlap by one token
    readonly int stride, padId;

    PretrainingDataset(int[] tokens, int seqLen, int stride, int count, int padId)
    {
        this.tokens = tokens;
        SeqLen = seqLen;
        this.stride = stride;
        Count = count;
        this.padId = padId;
    }

    public int SeqLen { get; }
    public int Count { get; }

    /// <summary>Number of tokens the model sees as input in one epoch (padding included).</summary>
    public long InputTokens => (long)Count * SeqLen;

    /// <param name="documents">token ids of each document, without begin/end tokens</param>
    /// <param name="bosId">the begin token, or null for tokenizers without one (Qwen): documents then start bare</param>
    public static PretrainingDataset Build(IEnumerable<int[]> documents, int seqLen, RowMode mode, int? bosId, int eosId, int padId)
    {
        int start = bosId is null ? 0 : 1;
        if (seqLen < 1) throw new SharpLMException($"sequence length must be at least 1, got {seqLen}");
        var stream = new List<int>();
        int rows = 0;
        foreach (var doc in documents)
        {
            if (mode == RowMode.Packed)
            {
                if (bosId is { } b) stream.Add(b);
                stream.AddRange(doc);
                stream.Add(eosId);
                continue;
            }
            var row = new int[seqLen + 1];
            Array.Fill(row, padId);
            if (bosId is { } first) row[0] = first;
            var n = Math.Min(doc.Length, seqLen + 1 - start);
            doc.AsSpan(0, n).CopyTo(row.AsSpan(start));
            if (start + n < row.Length) row[start + n] = eosId;
            stream.AddRange(row);
            rows++;
        }
        if (mode == RowMode.Packed)
        {
            // Row i is tokens[i*seq .. i*seq + seq]: each token is a target exactly once.
            rows = Math.Max(0, (stream.Count - 1) / seqLen);
            if (rows == 0)
                throw new SharpLMException($"the corpus has {stream.Count} tokens, fewer than one row of {seqLen + 1}; " +
                                           "use a shorter sequence length (seqLen) or more data");
            // Packed rows hold no padding: every target counts, even when the pad id doubles as the end token.
            return new PretrainingDataset(stream.ToArray(), seqLen, seqLen, rows, padId: -1);
        }
        if (rows == 0) throw new SharpLMException("the corpus has no documents");
        return new PretrainingDataset(stream.ToArray(), seqLen, seqLen + 1, rows, padId);
    }

    /// <summary>The seq_len + 1 tokens of row <paramref name="index"/>.</summary>
    public ReadOnlySpan<int> Row(int index) => tokens.AsSpan(index * stride, SeqLen + 1);

    public TrainingBatch Collate(IReadOnlyList<int> indices)
    {
        var inputs = new long[indices.Count * SeqLen];
        var labels = new long[indices.Count * SeqLen];
        for (int b = 0; b < indices.Count; b++)
        {
            var row = Row(indices[b]);
            for (int t = 0; t < SeqLen; t++)
            {
                inputs[b * SeqLen + t] = row[t];
                labels[b * SeqLen + t] = row[t + 1] == padId ? TrainingBatch.IgnoreIndex : row[t + 1];
            }
        }
        return new TrainingBatch
        {
            InputIds = tensor(inputs, [indices.Count, SeqLen]),
            Labels = tensor(labels, [indices.Count, SeqLen]),
        };
    }
}
