using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>Output rows [first, end) of one product <c>y = x W^T</c> for <paramref name="rows"/> fp32 input rows
/// x [rows, in], each output written to <c>y[r * outputs + o]</c>: one range of a split, run by the same code whether the
/// product is split alone or with others that read the same x into column blocks of one y (<see cref="FusedProjections"/>).
/// x and y point into memory that stays put during the split (pinned spans, libtorch's).</summary>
delegate void ProductRows(int first, int end, nint x, int rows, nint y, int outputs);

/// <summary>Runs a matrix product's output rows on up to <c>threads</c> threads, a contiguous range each (the decode
/// kernels <see cref="Fp32Product"/>, <see cref="Bf16Product"/> and <see cref="Q8Matrix"/>), on
/// <see cref="SpinningWorkers"/> when they are free.</summary>
static class OutputRowSplit
{
    [ThreadStatic] static int stepThreads;

    /// <summary>Threads the kernels may use: libtorch's intra-op count, or, inside a decoding step that lowered it
    /// (<see cref="Generation.IntraOpThreads"/>), the count it had before: the kernels split their products on threads
    /// that spin between them, which libtorch's OpenMP threads do not (they sleep).</summary>
    public static int Threads => Math.Max(stepThreads, get_num_threads());

    /// <summary>Runs <paramref name="step"/> with <see cref="Threads"/> at least <paramref name="threads"/> on this thread.</summary>
    public static T WithThreads<T>(int threads, Func<T> step)
    {
        int before = stepThreads;
        stepThreads = threads;
        try
        {
            return step();
        }
        finally
        {
            stepThreads = before;
        }
    }

    /// <summary>Writes the sums of four accumulators, for input rows r..r+3 (those below <paramref name="rows"/>), to output
    /// column <paramref name="o"/> of y [rows, outputs].</summary>
    public static unsafe void StoreFour(float* y, int outputs, int o, int r, int rows, Vector256<float> a0, Vector256<float> a1,
        Vector256<float> a2, Vector256<float> a3)
    {
        y[r * outputs + o] = Vector256.Sum(a0);
        if (r + 1 < rows) y[(r + 1) * outputs + o] = Vector256.Sum(a1);
        if (r + 2 < rows) y[(r + 2) * outputs + o] = Vector256.Sum(a2);
        if (r + 3 < rows) y[(r + 3) * outputs + o] = Vector256.Sum(a3);
    }

    /// <summary>Calls <paramref name="range"/>(first, end) for ranges covering 0..<paramref name="outputRows"/>; a range is
    /// at least 64 rows, so small matrices stay on the calling thread. When another thread's product holds the workers,
    /// this one runs whole on the calling thread: the cores are busy anyway, and handing parts to the .NET thread pool
    /// instead would starve the host's own tasks of pool threads.</summary>
    public static void Run(int outputRows, int threads, Action<int, int> range) =>
        Split(outputRows, Math.Clamp(threads, 1, outputRows / 64 + 1), range);

    /// <summary>Calls <paramref name="range"/>(first, end) for <paramref name="parts"/> contiguous ranges covering
    /// 0..<paramref name="count"/>, on <see cref="SpinningWorkers"/>; whole on the calling thread when they are busy.</summary>
    public static void Split(int count, int parts, Action<int, int> range)
    {
        if (parts <= 1 || !SpinningWorkers.TryRun(parts, part => range(count * part / parts, count * (part + 1) / parts)))
            range(0, count);
    }
}
