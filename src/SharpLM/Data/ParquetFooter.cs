using System.Buffers.Binary;

namespace SharpLM.Data;

/// <summary>
/// Checks a Parquet file's frame before Parquet.Net reads it: "PAR1" at both ends and a footer length (the int32 before
/// the final "PAR1") that fits in the file. Parquet.Net allocates the footer length it reads, so 2^31-1 there would
/// exhaust memory instead of failing.
/// </summary>
internal static class ParquetFooter
{
    static ReadOnlySpan<byte> Magic => "PAR1"u8;

    public static void Check(Stream stream, string path)
    {
        long length = stream.Length;
        if (length < 12)
            throw new SharpLMException($"{path}: not a readable Parquet file: {length} bytes is too short for the \"PAR1\" markers " +
                                       "and footer length");
        Span<byte> head = stackalloc byte[4], tail = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(head);
        stream.Position = length - 8;
        stream.ReadExactly(tail);
        stream.Position = 0;
        if (!head.SequenceEqual(Magic) || !tail[4..].SequenceEqual(Magic))
            throw new SharpLMException($"{path}: not a readable Parquet file: it does not start and end with \"PAR1\"");
        uint footer = BinaryPrimitives.ReadUInt32LittleEndian(tail);
        if (footer == 0 || footer > length - 12)
            throw new SharpLMException($"{path}: not a readable Parquet file: the footer length {footer} does not fit the file size {length} " +
                                       "(truncated or corrupt)");
    }
}
