namespace SharpLM.Tokenization;

/// <summary>
/// A BPE model's merges by token id, and the loop Hugging Face runs to apply them to one word:
/// the pair of lowest rank first, the leftmost among equal ranks, until no listed pair is adjacent.
/// </summary>
sealed class BpeMergeTable
{
    readonly Dictionary<long, (int Rank, int Id)> byPair;
    readonly int[] idByRank;

    /// <summary>Looks up the merges' tokens in <paramref name="vocab"/>.</summary>
    /// <exception cref="SharpLMException">A merge's part or result is not in the vocabulary.</exception>
    public BpeMergeTable(IReadOnlyList<(string Left, string Right)> merges, IReadOnlyDictionary<string, int> vocab)
    {
        byPair = new Dictionary<long, (int, int)>(merges.Count);
        idByRank = new int[merges.Count];
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            int Id(string token) => vocab.TryGetValue(token, out int id) ? id
                : throw new SharpLMException($"model.merges[{rank}] (\"{left}\" \"{right}\"): token \"{token}\" is not in model.vocab.");
            int leftId = Id(left), rightId = Id(right), mergedId = Id(left + right);
            // A pair listed twice keeps its last rank, as in Hugging Face.
            byPair[Key(leftId, rightId)] = (rank, mergedId);
            idByRank[rank] = mergedId;
        }
    }

    /// <summary>Merges <paramref name="symbols"/>[0..count) in place; returns how many symbols are left
    /// (at the front of <paramref name="symbols"/>). The other arrays are work space of at least
    /// <paramref name="count"/> entries.</summary>
    public int Merge(int[] symbols, int count, int[] prev, int[] next, PriorityQueue<int, long> queue)
    {
        if (count < 2) return count;
        for (int i = 0; i < count; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1;
        }
        next[count - 1] = -1;

        // Priority = rank, then position; entries made stale by an earlier merge are skipped when popped.
        queue.Clear();
        for (int i = 0; i + 1 < count; i++) Enqueue(queue, i, symbols[i], symbols[i + 1]);
        while (queue.TryDequeue(out int i, out long priority))
        {
            if (symbols[i] < 0 || next[i] < 0) continue;
            int j = next[i];
            int mergedId = idByRank[(int)(priority >> 32)];
            // As in Hugging Face, the entry stands if the pair now there still merges into the same token.
            if (!byPair.TryGetValue(Key(symbols[i], symbols[j]), out var m) || m.Id != mergedId) continue;
            symbols[i] = mergedId;
            symbols[j] = -1;
            next[i] = next[j];
            if (next[j] >= 0) prev[next[j]] = i;
            if (prev[i] >= 0) Enqueue(queue, prev[i], symbols[prev[i]], symbols[i]);
            if (next[i] >= 0) Enqueue(queue, i, symbols[i], symbols[next[i]]);
        }

        int left = 0;
        for (int i = 0; i >= 0; i = next[i]) symbols[left++] = symbols[i];
        return left;
    }

    void Enqueue(PriorityQueue<int, long> queue, int position, int left, int right)
    {
        if (byPair.TryGetValue(Key(left, right), out var m))
            queue.Enqueue(position, ((long)m.Rank << 32) | (uint)position);
    }

    static long Key(int left, int right) => ((long)left << 32) | (uint)right;
}
