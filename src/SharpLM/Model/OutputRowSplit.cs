namespace SharpLM.Model;

/// <summary>Runs a matrix product's output rows on up to <c>threads</c> threads, a contiguous range each (the decode
/// kernels of <see cref="Q8Matrix"/> and <see cref="Bf16Product"/>).</summary>
static class OutputRowSplit
{
    /// <summary>Calls <paramref name="range"/>(first, end) for ranges covering 0..<paramref name="outputRows"/>; a range is
    /// at least 64 rows, so small matrices stay on the calling thread.</summary>
    public static void Run(int outputRows, int threads, Action<int, int> range)
    {
        int parts = Math.Clamp(threads, 1, outputRows / 64 + 1);
        if (parts == 1) range(0, outputRows);
        else
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts },
                part => range(outputRows * part / parts, outputRows * (part + 1) / parts));
    }
}
