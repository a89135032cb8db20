using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace SharpLM.Tokenization;

/// <summary>
/// WTF-8 ("wobbly" UTF-8): UTF-8 extended so that any .NET string, even one with lone
/// (unpaired) UTF-16 surrogates, becomes bytes and comes back unchanged.
/// A lone surrogate U+D800..U+DFFF is written as its 3-byte generalized-UTF-8 form
/// (ED A0..BF 80..BF), which valid UTF-8 never contains; everything else is plain UTF-8.
/// Decoding turns those 3-byte forms back into the lone surrogate and replaces any other
/// invalid byte sequence (as a model may generate) with U+FFFD, one per maximal invalid
/// subsequence, as Hugging Face's decoder (Rust's from_utf8_lossy) does.
/// </summary>
public static class Wtf8
{
    /// <summary>Upper bound on the bytes <paramref name="chars"/> UTF-16 code units encode to.</summary>
    public static int MaxByteCount(int chars) => checked(chars * 3);

    /// <summary>Encodes <paramref name="text"/> into <paramref name="destination"/>, which must hold
    /// <see cref="MaxByteCount"/> bytes; returns the number of bytes written.</summary>
    public static int Encode(ReadOnlySpan<char> text, Span<byte> destination)
    {
        int written = 0;
        while (true)
        {
            var status = Utf8.FromUtf16(text, destination[written..], out int read, out int n, replaceInvalidSequences: false);
            written += n;
            if (status == OperationStatus.Done) return written;
            if (status != OperationStatus.InvalidData) throw new ArgumentException("Destination too small.", nameof(destination));
            // FromUtf16 stops at a lone surrogate: write its 3-byte form and go on after it.
            char c = text[read];
            destination[written++] = (byte)(0xE0 | (c >> 12));
            destination[written++] = (byte)(0x80 | ((c >> 6) & 0x3F));
            destination[written++] = (byte)(0x80 | (c & 0x3F));
            text = text[(read + 1)..];
        }
    }

    /// <summary>Encodes <paramref name="text"/> to a new array.</summary>
    public static byte[] Encode(ReadOnlySpan<char> text)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxByteCount(text.Length));
        try { return buffer.AsSpan(0, Encode(text, buffer)).ToArray(); }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Decodes WTF-8 bytes to a string (see the class remarks for invalid input).</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        // Never more UTF-16 code units than bytes.
        char[] buffer = ArrayPool<char>.Shared.Rent(Math.Max(bytes.Length, 1));
        try
        {
            int written = 0;
            while (true)
            {
                var status = Utf8.ToUtf16(bytes, buffer.AsSpan(written), out int read, out int n, replaceInvalidSequences: false);
                written += n;
                if (status == OperationStatus.Done) break;
                bytes = bytes[read..];
                if (bytes.Length >= 3 && bytes[0] == 0xED && bytes[1] is >= 0xA0 and <= 0xBF && bytes[2] is >= 0x80 and <= 0xBF)
                {
                    buffer[written++] = (char)(0xD000 | ((bytes[1] & 0x3F) << 6) | (bytes[2] & 0x3F));
                    bytes = bytes[3..];
                }
                else
                {
                    // Rune reports how many bytes form the maximal invalid subsequence.
                    Rune.DecodeFromUtf8(bytes, out _, out int invalid);
                    buffer[written++] = '\uFFFD';
                    bytes = bytes[Math.Max(invalid, 1)..];
                }
            }
            return new string(buffer, 0, written);
        }
        finally { ArrayPool<char>.Shared.Return(buffer); }
    }
}
