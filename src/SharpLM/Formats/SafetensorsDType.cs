using TorchSharp;

namespace SharpLM.Formats;

/// <summary>Element types of the safetensors format; member names are the format's own dtype strings.</summary>
public enum SafetensorsDType
{
    BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
}

/// <summary>Sizes and TorchSharp equivalents of <see cref="SafetensorsDType"/>.</summary>
public static class SafetensorsDTypes
{
    static readonly Dictionary<string, SafetensorsDType> ByName =
        Enum.GetValues<SafetensorsDType>().ToDictionary(d => d.ToString(), StringComparer.Ordinal);

    /// <summary>Parses a header dtype string (case-sensitive, as the format requires).</summary>
    public static bool TryParse(string name, out SafetensorsDType dtype) => ByName.TryGetValue(name, out dtype);

    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8_E5M2 or SafetensorsDType.F8_E4M3 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.F64 or SafetensorsDType.I64 or SafetensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Whether values are floating point (the types model weights may be stored in).</summary>
    public static bool IsFloatingPoint(this SafetensorsDType dtype) =>
        dtype is SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F32 or SafetensorsDType.F64
            or SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2;

    /// <summary>The TorchSharp type holding the same bits, or null where TorchSharp 0.107 has none
    /// (8-bit floats, unsigned 16/32/64-bit integers).</summary>
    public static torch.ScalarType? ToScalarType(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BOOL => torch.ScalarType.Bool,
        SafetensorsDType.U8 => torch.ScalarType.Byte,
        SafetensorsDType.I8 => torch.ScalarType.Int8,
        SafetensorsDType.I16 => torch.ScalarType.Int16,
        SafetensorsDType.F16 => torch.ScalarType.Float16,
        SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDType.I32 => torch.ScalarType.Int32,
        SafetensorsDType.F32 => torch.ScalarType.Float32,
        SafetensorsDType.F64 => torch.ScalarType.Float64,
        SafetensorsDType.I64 => torch.ScalarType.Int64,
        _ => null,
    };

    /// <summary>The safetensors dtype of a TorchSharp type; false for complex and quantized types.</summary>
    public static bool TryFromScalarType(torch.ScalarType type, out SafetensorsDType dtype)
    {
        SafetensorsDType? found = type switch
        {
            torch.ScalarType.Bool => SafetensorsDType.BOOL,
            torch.ScalarType.Byte => SafetensorsDType.U8,
            torch.ScalarType.Int8 => SafetensorsDType.I8,
            torch.ScalarType.Int16 => SafetensorsDType.I16,
            torch.ScalarType.Float16 => SafetensorsDType.F16,
            torch.ScalarType.BFloat16 => SafetensorsDType.BF16,
            torch.ScalarType.Int32 => SafetensorsDType.I32,
            torch.ScalarType.Float32 => SafetensorsDType.F32,
            torch.ScalarType.Float64 => SafetensorsDType.F64,
            torch.ScalarType.Int64 => SafetensorsDType.I64,
            _ => null,
        };
        dtype = found.GetValueOrDefault();
        return found.HasValue;
    }
}
