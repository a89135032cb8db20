namespace SharpLM.Model;

/// <summary>Named model sizes. <c>base</c> is the tutorial series' model exactly (179,448,576 parameters);
/// <c>seed</c>, its earlier name, is accepted as an alias of it.</summary>
public static class ModelPresets
{
    /// <summary>The presets, smallest first (without the alias <c>seed</c>).</summary>
    public static readonly IReadOnlyList<string> Names = ["tiny", "small", "base"];

    public static LlamaConfig Get(string name) => name switch
    {
        // The tutorial's LlamaConfig: 12 x 768, GQA 12/3, SwiGLU 3072, untied head.
        "base" or "seed" => new LlamaConfig
        {
            VocabSize = 50_000, MaxPositionEmbeddings = 2048, HiddenSize = 768, IntermediateSize = 3072,
            NumHiddenLayers = 12, NumAttentionHeads = 12, NumKeyValueHeadsRaw = 3,
        },
        // About 16 M parameters with an 8k vocabulary: small enough to pretrain on a laptop's CPU cores.
        "small" => new LlamaConfig
        {
            VocabSize = 8192, MaxPositionEmbeddings = 1024, HiddenSize = 384, IntermediateSize = 1024,
            NumHiddenLayers = 6, NumAttentionHeads = 6, NumKeyValueHeadsRaw = 2,
        },
        // For tests: a training step costs next to nothing.
        "tiny" => new LlamaConfig
        {
            VocabSize = 512, MaxPositionEmbeddings = 256, HiddenSize = 64, IntermediateSize = 128,
            NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2,
        },
        _ => throw new SharpLMException($"unknown model preset \"{name}\" (expected one of: {string.Join(", ", Names)})"),
    };
}
