using System.Globalization;
using SharpLM.Formats;

namespace SharpLM.Hub;

/// <summary>How <see cref="ModelFolder.Save"/> writes the weights: their tensor type and the largest shard.</summary>
public sealed record ModelSaveOptions
{
    /// <summary>Hugging Face's default for save_pretrained's max_shard_size ("5GB").</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>The tensor types a model folder may be saved in.</summary>
    public static IReadOnlyList<SafetensorsDType> SupportedDTypes { get; } = [SafetensorsDType.F32, SafetensorsDType.BF16, SafetensorsDType.F16];

    /// <summary>Tensor type of the saved weights (config.json's torch_dtype follows). F32 keeps every bit of an fp32 model.</summary>
    public SafetensorsDType DType { get; init; } = SafetensorsDType.F32;

    /// <summary>Weights larger than this (in bytes, in <see cref="DType"/>) are split into
    /// <c>model-0000i-of-0000N.safetensors</c> shards with an index; a single tensor larger than this gets a shard of its own.</summary>
    public long MaxShardBytes { get; init; } = DefaultMaxShardBytes;

    /// <summary>config.json's name for <see cref="DType"/>.</summary>
    public string TorchDtype => DType switch
    {
        SafetensorsDType.BF16 => "bfloat16",
        SafetensorsDType.F16 => "float16",
        _ => "float32",
    };

    public void Validate()
    {
        if (!SupportedDTypes.Contains(DType))
            throw new SharpLMException($"models can be saved as {string.Join(", ", SupportedDTypes)}, not {DType}");
        if (MaxShardBytes <= 0) throw new SharpLMException($"the maximum shard size must be positive, got {MaxShardBytes} bytes");
    }

    /// <summary>Parses a size as Hugging Face writes max_shard_size: a number with a decimal unit KB, MB, GB or TB
    /// (case-insensitive, "2GB" = 2,000,000,000 bytes, "1.5GB" allowed), or a plain number of bytes.</summary>
    public static long ParseSize(string text)
    {
        var trimmed = text.Trim();
        long multiplier = 1;
        if (trimmed.Length > 2 && char.IsLetter(trimmed[^1]))
        {
            multiplier = trimmed[^2..].ToUpperInvariant() switch
            {
                "KB" => 1_000,
                "MB" => 1_000_000,
                "GB" => 1_000_000_000,
                "TB" => 1_000_000_000_000,
                _ => throw new SharpLMException($"size \"{text}\": the unit must be KB, MB, GB or TB (or none, for bytes)"),
            };
            trimmed = trimmed[..^2].TrimEnd();
        }
        if (!double.TryParse(trimmed, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)
            || value * multiplier < 1 || value * multiplier > long.MaxValue)
            throw new SharpLMException($"size \"{text}\" is not a number of bytes with an optional unit, such as 500MB or 2GB");
        return (long)(value * multiplier);
    }
}
