using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>Runs a decoding step with fewer libtorch intra-op threads than the prompt uses (see
/// <see cref="TokenGenerator.DecodeThreads"/>): a step is a chain of small products for which waking a second OpenMP
/// thread costs more than it saves.</summary>
static class IntraOpThreads
{
    /// <summary>Runs <paramref name="step"/> with at most <paramref name="threads"/> intra-op threads (0 = as they are).
    /// OpenMP's count is the calling thread's; it is restored before the caller runs again. SharpLM's own decode kernels
    /// keep the count it had (their threads spin between products).</summary>
    public static T Run<T>(int threads, Func<T> step)
    {
        int current = threads > 0 ? get_num_threads() : 0;
        bool fewer = threads < current;
        if (fewer) set_num_threads(threads);
        try
        {
            return fewer ? Model.OutputRowSplit.WithThreads(current, step) : step();
        }
        finally
        {
            if (fewer) set_num_threads(current);
        }
    }
}
