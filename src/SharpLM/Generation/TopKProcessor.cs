namespace SharpLM.Generation;

/// <summary>Keeps the k highest logits (and any tied with the k-th) and masks the rest to -infinity.</summary>
public sealed class TopKProcessor : ILogitProcessor
{
    public TopKProcessor(int k)
    {
        if (k < 0) throw new SharpLMException($"top-k must be >= 0 (0 disables it), got {k}");
        K = k;
    }

    public int K { get; }

    public void Process(Span<float> logits, ReadOnlySpan<int> context)
    {
        if (K == 0 || K >= logits.Length) return;
        var threshold = KthLargest(logits, K);
        foreach (ref var l in logits)
            if (l < threshold) l = float.NegativeInfinity;
    }

    /// <summary>The k-th largest value (1-based) by quickselect: O(n) on average instead of a full sort per token.</summary>
    internal static float KthLargest(ReadOnlySpan<float> values, int k)
    {
        var a = values.ToArray();
        int lo = 0, hi = a.Length - 1, target = k - 1;
        var rng = new Random(12345); // pivot choice only; the result does not depend on it
        while (true)
        {
            if (lo == hi) return a[lo];
            var pivot = a[rng.Next(lo, hi + 1)];
            // Three-way partition, descending: [> pivot][== pivot][< pivot].
            int lt = lo, i = lo, gt = hi;
            while (i <= gt)
            {
                if (a[i] > pivot) { (a[lt], a[i]) = (a[i], a[lt]); lt++; i++; }
                else if (a[i] < pivot) { (a[i], a[gt]) = (a[gt], a[i]); gt--; }
                else i++;
            }
            if (target < lt) hi = lt - 1;
            else if (target > gt) lo = gt + 1;
            else return pivot;
        }
    }
}
