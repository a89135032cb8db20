using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>NEFTune (Jain et al., 2023): uniform noise added to the input embeddings while fine-tuning, which improves
/// instruction-tuned answers on small data sets. Its scale is the paper's (and TRL's): alpha / sqrt(seq_len * hidden).</summary>
public static class EmbeddingNoise
{
    /// <summary>Embeddings [batch, seq, hidden] plus noise drawn uniformly from ±alpha / sqrt(seq * hidden) (libtorch's
    /// global generator, as dropout uses).</summary>
    public static Tensor Add(Tensor embeddings, double alpha)
    {
        double bound = alpha / Math.Sqrt(embeddings.shape[1] * embeddings.shape[2]);
        using var noise = empty_like(embeddings).uniform_(-bound, bound);
        return embeddings + noise;
    }
}
