namespace SharpLM.Formats;

/// <summary>The ggml tensor types SharpLM writes into GGUF files (values are ggml's <c>ggml_type</c> numbers).</summary>
public enum GgufTensorType : uint
{
    F32 = 0,
    F16 = 1,
    /// <summary>Blocks of 32 values: one fp16 scale, then 32 int8 (34 bytes per block).</summary>
    Q8_0 = 8,
}

public static class GgufTensorTypes
{
    /// <summary>Values per block: a row's length must be a multiple of it.</summary>
    public static int BlockSize(this GgufTensorType type) => type == GgufTensorType.Q8_0 ? GgufQ8_0.BlockSize : 1;

    /// <summary>Bytes that <paramref name="elements"/> values take in this type.</summary>
    public static long ByteCount(this GgufTensorType type, long elements) => type switch
    {
        GgufTensorType.F32 => elements * 4,
        GgufTensorType.F16 => elements * 2,
        GgufTensorType.Q8_0 => elements / GgufQ8_0.BlockSize * GgufQ8_0.BlockBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>Parses "f32", "f16" or "q8_0" (any case).</summary>
    public static GgufTensorType Parse(string name) => name.ToLowerInvariant() switch
    {
        "f32" => GgufTensorType.F32,
        "f16" => GgufTensorType.F16,
        "q8_0" => GgufTensorType.Q8_0,
        _ => throw new SharpLMException($"unknown GGUF tensor type \"{name}\" (expected f32, f16 or q8_0)"),
    };
}
