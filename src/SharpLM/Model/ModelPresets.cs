namespace SharpLM.Model;

/// <summary>Named model sizes. <c>seed</c> is the tutorial series' model exactly (179,448,576 parameters).</summary>
public static class ModelPresets
{
    public static readonly IReadOnlyList<string> Names = ["seed", "small", "tiny"];

    public static LlamaConfig Get(string name) => name switch
    {
        // The seed article's LlamaConfig: 12 x 768, GQA 12/3, SwiGLU 3072, untied head.
        "seed" => new LlamaConfig
        {
            VocabSize = 50_000, MaxPositionEmbeddings = 2048, HiddenSize = 768, IntermediateSize = 3072,
            NumHiddenLayers = 12, NumAttentionHeads = 12, NumKeyValueHeadsRaw = 3,
        },
        // About 16 M parameters with an 8k vocabulary: trains at a few thousand tokens/s on two CPU cores.
        "small" => new LlamaConfig
        {
            VocabSize = 8192, MaxPositionEmbeddings = 1024, HiddenSize = 384, IntermediateSize = 1024,
            NumHiddenLayers = 6, NumAttentionHeads = 6, NumKeyValueHeadsRaw = 2,
        },
        // For tests: milliseconds per step.
        "tiny" => new LlamaConfig
        {
            VocabSize = 512, MaxPositionEmbeddings = 256, HiddenSize = 64, IntermediateSize = 128,
            NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2,
        },
        _ => throw new SharpLMException($"unknown model preset \"{name}\" (expected one of: {string.Join(", ", Names)})"),
    };
}
