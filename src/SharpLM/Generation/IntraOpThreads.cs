using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>Runs a decoding step, or a short prompt whose products SharpLM's kernels take, with fewer libtorch intra-op
/// threads than a long prompt uses (see <see cref="TokenGenerator.DecodeThreads"/>): what libtorch runs then is a chain of
/// small steps for which waking a second OpenMP thread costs more than it saves.</summary>
static class IntraOpThreads
{
    /// <summary>Multiply-adds of one layer's attention scores (new tokens x context x hidden size) up to which a prompt's
    /// forward pass, its products on SharpLM's kernels, leaves libtorch on the decoding step's thread count. What libtorch
    /// still runs then (attention, norms, element-wise steps) is small, and waking OpenMP's threads for each of those
    /// steps costs more than they save: measured on `small` with 2 cores, 128 tokens took 14.5-14.9 ms on one libtorch
    /// thread and 17.4-23 ms on two; 256 tokens about 30 ms either way; 1,000 tokens 175 ms on one and 135 ms on two.</summary>
    const long SmallAttention = 1L << 24;

    /// <summary>Threads for a forward pass of <paramref name="newTokens"/> tokens, <paramref name="context"/> in all with
    /// those cached: <paramref name="fewThreads"/> (a decoding step's) for one token, and for a short prompt whose
    /// products SharpLM's kernels take (<see cref="Model.PromptProduct"/>, <see cref="Model.Q8PromptProduct"/>); else 0,
    /// libtorch's count.</summary>
    public static int ForPass(Model.LlamaForCausalLM model, long newTokens, long context, int fewThreads)
    {
        if (newTokens == 1) return fewThreads;
        if (newTokens * context * model.Config.HiddenSize > SmallAttention) return 0; // before ComputeType, which walks the modules
        bool kernelsTakeProducts = model.Device.type == TorchSharp.DeviceType.CPU && Model.PromptProduct.Applies(model.Config.HiddenSize)
            && model.model.norm.weight.dtype == ScalarType.Float32 && model.ComputeType is null;
        return kernelsTakeProducts ? fewThreads : 0;
    }

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
