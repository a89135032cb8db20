namespace SharpLM.Generation;

/// <summary>How a <see cref="ContinuousBatcher"/> shares the model between concurrent generations.</summary>
public sealed record BatchingOptions
{
    /// <summary>Most sequences decoded together; further requests wait in arrival order.</summary>
    public int MaxBatch { get; init; } = 8;

    /// <summary>Memory for keys and values of all sequences in flight, allocated once: each of the
    /// <see cref="MaxBatch"/> slots holds the model's context or as much of it as fits this budget.</summary>
    public long KvCacheBytes { get; init; } = 1L << 30;

    /// <summary>Prompt tokens prefilled per step: a new prompt delays the sequences already decoding by at most one
    /// chunk's forward pass per token they generate.</summary>
    public int PrefillChunk { get; init; } = 256;

    /// <summary>Intra-op threads for a decoding step (0 = libtorch's count): as <see cref="TokenGenerator.DecodeThreads"/>.</summary>
    public int DecodeThreads { get; init; } = Runtime.NativeEnvironment.IsConfigured ? 1 : 0;

    internal void Validate()
    {
        if (MaxBatch < 1) throw new SharpLMException($"MaxBatch must be at least 1, got {MaxBatch}");
        if (KvCacheBytes < 1) throw new SharpLMException($"KvCacheBytes must be positive, got {KvCacheBytes}");
        if (PrefillChunk < 1) throw new SharpLMException($"PrefillChunk must be at least 1, got {PrefillChunk}");
        if (DecodeThreads < 0) throw new SharpLMException($"DecodeThreads must be >= 0, got {DecodeThreads}");
    }
}
