namespace SharpLM.Data;

/// <summary>
/// First-fit bin packing: each item goes into the first bin (in creation order) with room for it, or a new bin.
/// A max-tree over the bins' free space finds that bin in O(log bins), so packing large datasets stays fast.
/// </summary>
internal sealed class FirstFitPacker(int capacity)
{
    readonly List<List<int>> bins = [];
    int[] tree = new int[2]; // tree[1] is the root; leaves start at tree.Length / 2
    int Leaves => tree.Length / 2;

    /// <summary>Item indices of each bin, in the order they were added.</summary>
    public IReadOnlyList<List<int>> Bins => bins;

    /// <summary>Puts item <paramref name="item"/> of size <paramref name="size"/> (1..capacity) into a bin.</summary>
    public void Add(int item, int size)
    {
        if (size < 1 || size > capacity) throw new ArgumentOutOfRangeException(nameof(size), size, $"must be 1..{capacity}");
        int bin = tree[1] >= size ? FirstWithRoom(size) : NewBin();
        bins[bin].Add(item);
        Set(bin, tree[Leaves + bin] - size);
    }

    int FirstWithRoom(int size)
    {
        int node = 1;
        while (node < Leaves) node = tree[2 * node] >= size ? 2 * node : 2 * node + 1;
        return node - Leaves;
    }

    int NewBin()
    {
        if (bins.Count == Leaves) Grow();
        bins.Add([]);
        Set(bins.Count - 1, capacity);
        return bins.Count - 1;
    }

    void Grow()
    {
        var old = tree;
        tree = new int[old.Length * 2];
        Array.Copy(old, old.Length / 2, tree, Leaves, old.Length / 2);
        for (int node = Leaves - 1; node >= 1; node--) tree[node] = Math.Max(tree[2 * node], tree[2 * node + 1]);
    }

    void Set(int bin, int free)
    {
        int node = Leaves + bin;
        tree[node] = free;
        for (node /= 2; node >= 1; node /= 2) tree[node] = Math.Max(tree[2 * node], tree[2 * node + 1]);
    }
}
