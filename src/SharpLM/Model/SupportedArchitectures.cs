using System.Text.Json;

namespace SharpLM.Model;

/// <summary>
/// Which Hugging Face architectures SharpLM's Llama model computes exactly: <c>llama</c> (Llama 2/3, TinyLlama,
/// SmolLM), <c>mistral</c> when its sliding window never applies, <c>qwen2</c> (Qwen2/2.5: Llama with q/k/v
/// biases) and <c>qwen3</c> (Llama with query/key norms), both without sliding-window attention. Anything else is refused up front, with the
/// reason, instead of loading weights into a model that computes something else.
/// </summary>
public static class SupportedArchitectures
{
    public static IReadOnlyList<string> ModelTypes { get; } = ["llama", "mistral", "qwen2", "qwen3"];
    public static IReadOnlyList<string> Architectures { get; } = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"];

    /// <summary>What SharpLM supports, for error messages and help text.</summary>
    public const string Summary =
        "SharpLM runs Llama-architecture decoders: model_type \"llama\" (LlamaForCausalLM: Llama 2/3, TinyLlama, SmolLM) " +
        "\"mistral\" (MistralForCausalLM) when sliding_window is null or at least max_position_embeddings, \"qwen2\" " +
        "(Qwen2ForCausalLM: Qwen2, Qwen2.5) and \"qwen3\" (Qwen3ForCausalLM, dense) without use_sliding_window";

    /// <summary>transformers' MistralConfig default, used when a mistral config.json leaves sliding_window out.</summary>
    public const int MistralDefaultSlidingWindow = 4096;

    // Why common neighbours are not Llama: the same tensor names would load and compute something else.
    static readonly Dictionary<string, string> Differences = new(StringComparer.Ordinal)
    {
        ["gpt2"] = "learned positions, LayerNorm, GELU MLP and Conv1D weights",
        ["qwen3_moe"] = "mixture-of-experts MLPs",
        ["gemma"] = "scaled embeddings, GELU MLP and (1 + w) norms",
        ["gemma2"] = "scaled embeddings, soft-capped logits, extra norms and sliding-window layers",
        ["gemma3"] = "scaled embeddings, extra norms, query/key norms and sliding-window layers",
        ["phi3"] = "fused qkv and gate/up projections",
    };

    /// <summary>Throws a <see cref="SharpLMException"/> unless the config describes a supported architecture.</summary>
    public static void Check(LlamaConfig config, string source)
    {
        if (!ModelTypes.Contains(config.ModelType))
        {
            var why = Differences.TryGetValue(config.ModelType, out var d) ? $" ({config.ModelType} differs: {d})" : "";
            throw new SharpLMException($"{source}: model_type \"{config.ModelType}\" is not supported{why}. {Summary}.");
        }
        foreach (var architecture in config.Architectures)
            if (!Architectures.Contains(architecture))
                throw new SharpLMException($"{source}: architectures lists \"{architecture}\", which is not supported " +
                                           $"(expected {string.Join(" or ", Architectures)}). {Summary}.");
        if (config.ModelType is "qwen2" or "qwen3") CheckQwen2(config, source);
        if (config.ModelType == "mistral" && SlidingWindow(config, source) is { } window && window < config.MaxPositionEmbeddings)
            throw new SharpLMException(
                $"{source}: sliding_window {window} is smaller than max_position_embeddings {config.MaxPositionEmbeddings}: " +
                "SharpLM has no sliding-window attention, so tokens further apart than the window would attend differently " +
                "than the model was trained to (Mistral-7B v0.2 and later set sliding_window to null). " + Summary + ".");
    }

    static void CheckQwen2(LlamaConfig config, string source)
    {
        if (config.Extra is not null && config.Extra.TryGetValue("use_sliding_window", out var use) && use.ValueKind == JsonValueKind.True)
            throw new SharpLMException($"{source}: use_sliding_window is true: SharpLM has no sliding-window attention. {Summary}.");
    }

    static int? SlidingWindow(LlamaConfig config, string source)
    {
        if (config.Extra is null || !config.Extra.TryGetValue("sliding_window", out var value)) return MistralDefaultSlidingWindow;
        return value.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.Number when value.TryGetInt32(out int window) => window,
            _ => throw new SharpLMException($"{source}: sliding_window must be an integer or null, got {value}"),
        };
    }
}
