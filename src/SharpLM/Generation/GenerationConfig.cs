using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpLM.Generation;

/// <summary>
/// Hugging Face <c>generation_config.json</c>: the special token ids and default sampling settings saved with a
/// model. SharpLM's window for the repetition penalty (which transformers lacks) is kept in an extra field.
/// </summary>
public sealed class GenerationConfig
{
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; set; }
    [JsonPropertyName("eos_token_id"), JsonConverter(typeof(Model.IntOrIntArrayConverter))] public int[]? EosTokenId { get; set; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; }
    [JsonPropertyName("do_sample")] public bool DoSample { get; set; } = true;
    [JsonPropertyName("temperature")] public float Temperature { get; set; } = 1.0f;
    [JsonPropertyName("top_k")] public int TopK { get; set; } = 50;
    [JsonPropertyName("top_p")] public float TopP { get; set; } = 1.0f;
    [JsonPropertyName("repetition_penalty")] public float RepetitionPenalty { get; set; } = 1.0f;
    [JsonPropertyName("repetition_penalty_range")] public int RepetitionPenaltyRange { get; set; } = 10;
    [JsonPropertyName("max_new_tokens")] public int MaxNewTokens { get; set; } = 100;
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    public SamplingOptions ToSamplingOptions() => new()
    {
        MaxNewTokens = MaxNewTokens,
        Temperature = DoSample ? Temperature : 0,
        TopK = TopK,
        TopP = TopP,
        RepetitionPenalty = RepetitionPenalty,
        RepetitionPenaltyRange = RepetitionPenaltyRange,
    };

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a generation_config.json. A file that does not set do_sample means greedy decoding, as in
    /// transformers; configs SharpLM writes always set it (sampling, the tutorial's default).</summary>
    public static GenerationConfig Load(string path)
    {
        var config = IO.JsonFile.Read<GenerationConfig>(path, "generation_config.json", Json, out var fields);
        if (!fields.Contains("do_sample")) config.DoSample = false;
        config.Validate(path);
        return config;
    }

    /// <summary>Throws a <see cref="SharpLMException"/> naming <paramref name="source"/> and the first field out of range,
    /// so a bad default fails when the file is read rather than at the first generation, without a name.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string field, object value, string expected)
        {
            if (!ok) throw new SharpLMException($"{source}: field \"{field}\" must be {expected}, got {value}");
        }
        Require(Temperature >= 0 && float.IsFinite(Temperature), "temperature", Temperature, ">= 0");
        Require(TopK >= 0, "top_k", TopK, ">= 0 (0 disables it)");
        Require(TopP is > 0 and <= 1, "top_p", TopP, "in (0, 1]");
        Require(RepetitionPenalty > 0 && float.IsFinite(RepetitionPenalty), "repetition_penalty", RepetitionPenalty, "positive");
        Require(RepetitionPenaltyRange >= 0, "repetition_penalty_range", RepetitionPenaltyRange, ">= 0");
        Require(MaxNewTokens >= 0, "max_new_tokens", MaxNewTokens, ">= 0");
        Require(BosTokenId is null or >= 0, "bos_token_id", BosTokenId!, "a token id (>= 0)");
        foreach (int eos in EosTokenId ?? []) Require(eos >= 0, "eos_token_id", eos, "a token id (>= 0)");
    }
}
