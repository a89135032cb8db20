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
    /// transformers; configs SharpLM writes always set it (sampling, the seed's default).</summary>
    public static GenerationConfig Load(string path)
    {
        try
        {
            var json = File.ReadAllText(path);
            var config = JsonSerializer.Deserialize<GenerationConfig>(json, Json) ?? throw new SharpLMException($"{path}: expected a JSON object");
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("do_sample", out _)) config.DoSample = false;
            return config;
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{path}: invalid generation config ({e.Message})", e);
        }
    }
}
