using System.Buffers.Binary;
using System.Text;

namespace SharpLM.Tests.Training;

/// <summary>
/// A reader of TensorBoard event files written independently of the writer: TFRecord framing (length, masked CRC-32C of
/// the length, the record, masked CRC-32C of the record), every CRC checked, and the few protobuf fields of
/// Event / Summary / Summary.Value / TensorProto that scalars and text use, decoded from the wire format.
/// </summary>
static class TensorBoardEvents
{
    public sealed record Event(double WallTime, long Step, string? FileVersion, List<(string Tag, float? Scalar, string? Text)> Values);

    public static List<Event> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var events = new List<Event>();
        for (int at = 0; at < bytes.Length;)
        {
            var length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at));
            Check(bytes.AsSpan(at, 8), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8)), path, "length");
            var record = bytes.AsSpan(at + 12, (int)length);
            Check(record, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + (int)length)), path, "record");
            events.Add(ParseEvent(record.ToArray()));
            at += 12 + (int)length + 4;
        }
        return events;
    }

    static void Check(ReadOnlySpan<byte> data, uint masked, string path, string what)
    {
        uint crc = Crc32C(data);
        uint expected = ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
        if (expected != masked) throw new InvalidDataException($"{path}: the {what} CRC does not match");
    }

    static Event ParseEvent(byte[] data)
    {
        double wallTime = 0;
        long step = 0;
        string? version = null;
        var values = new List<(string, float?, string?)>();
        foreach (var (field, wire, number, bytes) in Fields(data))
        {
            if (field == 1 && wire == 1) wallTime = BitConverter.Int64BitsToDouble((long)number);
            else if (field == 2 && wire == 0) step = (long)number;
            else if (field == 3) version = Encoding.UTF8.GetString(bytes!);
            else if (field == 5)
                foreach (var (f, _, _, value) in Fields(bytes!))
                    if (f == 1) values.Add(ParseValue(value!));
        }
        return new Event(wallTime, step, version, values);
    }

    static (string, float?, string?) ParseValue(byte[] data)
    {
        string tag = "";
        float? scalar = null;
        string? text = null;
        foreach (var (field, _, number, bytes) in Fields(data))
        {
            if (field == 1) tag = Encoding.UTF8.GetString(bytes!);
            else if (field == 2) scalar = BitConverter.Int32BitsToSingle((int)number);
            else if (field == 8)
                foreach (var (f, _, _, s) in Fields(bytes!))
                    if (f == 8) text = Encoding.UTF8.GetString(s!);
        }
        return (tag, scalar, text);
    }

    /// <summary>The fields of a protobuf message: number, wire type, and the value (a number, or the bytes of a
    /// length-delimited field).</summary>
    static IEnumerable<(int Field, int Wire, ulong Number, byte[]? Bytes)> Fields(byte[] data)
    {
        int at = 0;
        while (at < data.Length)
        {
            ulong key = Varint(data, ref at);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: yield return (field, wire, Varint(data, ref at), null); break;
                case 1: yield return (field, wire, BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(at)), null); at += 8; break;
                case 5: yield return (field, wire, BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at)), null); at += 4; break;
                case 2:
                    int length = (int)Varint(data, ref at);
                    yield return (field, wire, 0, data[at..(at + length)]);
                    at += length;
                    break;
                default: throw new InvalidDataException($"unexpected protobuf wire type {wire}");
            }
        }
    }

    static ulong Varint(byte[] data, ref int at)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
    }

    /// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: slow and plain.</summary>
    static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xffffffffu;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
        }
        return ~crc;
    }
}
