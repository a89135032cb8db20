namespace SharpLM.Formats;

/// <summary>One tensor as described by a safetensors header.</summary>
/// <param name="Name">The tensor's name, e.g. <c>model.layers.0.mlp.up_proj.weight</c>.</param>
/// <param name="DType">Element type as stored.</param>
/// <param name="Shape">Dimensions; empty for a scalar.</param>
/// <param name="DataBegin">Start of its bytes, counted from the start of the data section (after the header).</param>
/// <param name="DataEnd">End (exclusive) of its bytes in the data section.</param>
public sealed record SafetensorsEntry(string Name, SafetensorsDType DType, IReadOnlyList<long> Shape, long DataBegin, long DataEnd)
{
    public long ByteLength => DataEnd - DataBegin;

    public long ElementCount => Shape.Aggregate(1L, (count, dim) => count * dim);
}
