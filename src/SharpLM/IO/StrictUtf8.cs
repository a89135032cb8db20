using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace SharpLM.IO;

/// <summary>UTF-8 decoding that refuses invalid bytes (a silent U+FFFD would train the model on garbage)
/// and says exactly where the first bad byte is.</summary>
internal static class StrictUtf8
{
    static readonly UTF8Encoding Encoding = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Decodes <paramref name="bytes"/>; on invalid UTF-8 returns false and the index of the first bad byte.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, out string text, out int invalidAt)
    {
        try
        {
            text = Encoding.GetString(bytes);
            invalidAt = -1;
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = "";
            invalidAt = FirstInvalid(bytes);
            return false;
        }
    }

    /// <summary>Index of the first byte that does not start a valid UTF-8 sequence, or -1.</summary>
    public static int FirstInvalid(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes)) return -1;
        int i = 0;
        while (i < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[i..], out _, out int consumed) != OperationStatus.Done) return i;
            i += consumed;
        }
        return -1;
    }

    /// <summary>The message for an invalid byte at <paramref name="fileOffset"/> in <paramref name="path"/>.</summary>
    public static string InvalidMessage(string path, long line, long fileOffset, byte value, bool startsWithUtf16Bom) =>
        $"{path}:{line}: invalid UTF-8 at byte offset {fileOffset} (byte 0x{value:X2}); corpus files must be UTF-8"
        + (startsWithUtf16Bom
            ? " (this file starts with a UTF-16 byte-order mark: re-save it as UTF-8)"
            : " (if it is Latin-1/Windows-1252, convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8)");

    public static bool StartsWithUtf16Bom(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]);
}
