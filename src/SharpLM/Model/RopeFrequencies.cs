using System.Text.Json;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// The rotary frequencies a config.json asks for: <c>rope_theta</c> and an optional scaling rule, read from
/// <c>rope_scaling</c> (transformers 4) or <c>rope_parameters</c> (transformers 5, which also moves
/// <c>rope_theta</c> inside it). Supported rules: <c>default</c>, <c>linear</c> (positions divided by
/// <c>factor</c>) and <c>llama3</c> (Llama 3.1/3.2: low frequencies divided by <c>factor</c>, high ones kept,
/// a smooth blend between). Other rules are refused rather than silently computing different positions.
/// </summary>
public sealed record RopeFrequencies
{
    public const string Default = "default", Linear = "linear", Llama3 = "llama3";

    /// <summary>The scaling rules SharpLM computes, as config.json names them.</summary>
    public static IReadOnlyList<string> SupportedTypes { get; } = [Default, Linear, Llama3];

    public double Theta { get; init; } = 10_000;
    public string Type { get; init; } = Default;
    public double Factor { get; init; } = 1;
    public double LowFreqFactor { get; init; }
    public double HighFreqFactor { get; init; }
    public double OriginalMaxPositionEmbeddings { get; init; }

    /// <summary>Reads the rule of <paramref name="config"/>; throws a <see cref="SharpLMException"/> naming the field
    /// when the rule is not supported or a parameter is missing or out of range.</summary>
    public static RopeFrequencies FromConfig(LlamaConfig config, string source = "config")
    {
        var (field, element) = config.RopeParameters is { ValueKind: not JsonValueKind.Null } parameters
            ? ("rope_parameters", parameters)
            : ("rope_scaling", config.RopeScaling ?? default);
        if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
            return Checked(new RopeFrequencies { Theta = config.RopeTheta }, source, field);
        if (element.ValueKind != JsonValueKind.Object)
            throw new SharpLMException($"{source}: {field} must be an object or null, got {element.ValueKind}");

        var (typeKey, type) = TypeOf(element, field, source);
        double theta = Number(element, "rope_theta", field, source, required: false) ?? config.RopeTheta;
        double Required(string name) => Number(element, name, field, source, required: true)!.Value;
        var rule = type switch
        {
            Default => new RopeFrequencies { Theta = theta },
            Linear => new RopeFrequencies { Theta = theta, Type = Linear, Factor = Required("factor") },
            Llama3 => new RopeFrequencies
            {
                Theta = theta, Type = Llama3, Factor = Required("factor"), LowFreqFactor = Required("low_freq_factor"),
                HighFreqFactor = Required("high_freq_factor"),
                OriginalMaxPositionEmbeddings = Required("original_max_position_embeddings"),
            },
            _ => throw new SharpLMException(
                $"{source}: {field}.{typeKey} \"{type}\" is not supported; SharpLM computes RoPE scaling types " +
                $"{string.Join(", ", SupportedTypes.Select(t => $"\"{t}\""))} (and none). Other types (yarn, dynamic, longrope, ...) " +
                "would give every position a different angle than the model was trained with."),
        };
        return Checked(rule, source, field);
    }

    const double MaxTheta = 1e12;

    static RopeFrequencies Checked(RopeFrequencies rule, string source, string field)
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new SharpLMException($"{source}: {what}");
        }
        // Real models use 1e4 to 1e7; far beyond that every frequency but the first rounds to zero in fp32.
        Require(rule.Theta is > 0 and <= MaxTheta, $"rope_theta must be in (0, {MaxTheta:0e0}], got {rule.Theta}");
        Require(rule.Factor > 0, $"{field}.factor must be positive, got {rule.Factor}");
        if (rule.Type != Llama3) return rule;
        Require(rule.LowFreqFactor > 0, $"{field}.low_freq_factor must be positive, got {rule.LowFreqFactor}");
        Require(rule.HighFreqFactor > rule.LowFreqFactor,
            $"{field}.high_freq_factor ({rule.HighFreqFactor}) must be greater than low_freq_factor ({rule.LowFreqFactor})");
        Require(rule.OriginalMaxPositionEmbeddings > 0,
            $"{field}.original_max_position_embeddings must be positive, got {rule.OriginalMaxPositionEmbeddings}");
        return rule;
    }

    /// <summary>"rope_type", or "type" as older configs spell it (key and value); absent means the default rule.</summary>
    static (string Key, string Type) TypeOf(JsonElement element, string field, string source)
    {
        foreach (var key in new[] { "rope_type", "type" })
        {
            if (!element.TryGetProperty(key, out var value)) continue;
            return value.ValueKind == JsonValueKind.String ? (key, value.GetString()!)
                : throw new SharpLMException($"{source}: {field}.{key} must be a string, got {value.ValueKind}");
        }
        return ("rope_type", Default);
    }

    static double? Number(JsonElement element, string name, string field, string source, bool required)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return required
                ? throw new SharpLMException($"{source}: {field}.{name} is missing (the \"{TypeOf(element, field, source).Type}\" rule needs it)")
                : null;
        return value.ValueKind == JsonValueKind.Number ? value.GetDouble()
            : throw new SharpLMException($"{source}: {field}.{name} must be a number, got {value.ValueKind}");
    }

    /// <summary>inv_freq [headDim / 2] in float32, with transformers' operations in transformers' order (Python's
    /// <c>scalar / tensor</c> is <c>tensor.reciprocal() * scalar</c>, as is TorchSharp's), so the rotation tables
    /// match the reference bit for bit.</summary>
    public Tensor InverseFrequencies(int headDim)
    {
        using var scope = NewDisposeScope();
        // reciprocal() is 1.0 / x without a native Scalar for the 1.0 (x 1.0 is exact).
        var invFreq = pow(Theta, arange(0, headDim, 2, dtype: int64).to(float32) / headDim).reciprocal();
        var result = Type switch
        {
            Linear => invFreq / Factor,
            Llama3 => Llama3Rule(invFreq),
            _ => invFreq,
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Wavelengths shorter than original/high_freq_factor keep their frequency, longer than
    /// original/low_freq_factor are divided by factor, and those between blend the two linearly in original/wavelength.</summary>
    Tensor Llama3Rule(Tensor invFreq)
    {
        double lowFreqWavelen = OriginalMaxPositionEmbeddings / LowFreqFactor;
        double highFreqWavelen = OriginalMaxPositionEmbeddings / HighFreqFactor;
        var wavelen = 2 * Math.PI / invFreq;
        var scaled = where(wavelen.gt(lowFreqWavelen), invFreq / Factor, invFreq);
        var smooth = (OriginalMaxPositionEmbeddings / wavelen - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
        var smoothed = (1 - smooth) * scaled / Factor + smooth * scaled;
        var medium = wavelen.lt(highFreqWavelen).logical_not().logical_and(wavelen.gt(lowFreqWavelen).logical_not());
        return where(medium, smoothed, scaled);
    }
}
