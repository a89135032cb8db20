namespace SharpLM.Tokenization;

/// <summary>
/// GPT-2's reversible map between the 256 byte values and 256 printable Unicode characters,
/// used by byte-level BPE so that every token is a readable string ("Ġ" stands for the space byte).
/// Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100.. in byte order.
/// </summary>
public static class ByteLevelAlphabet
{
    static readonly char[] byteToChar = new char[256];
    static readonly byte[] order = new byte[256];
    // Every mapped char is below U+0144, so a flat table indexed by char is small.
    static readonly short[] charToByte = new short[0x144];

    static ByteLevelAlphabet()
    {
        int n = 0;
        // Bytes that map to themselves, in ascending order, come first ...
        for (int b = 0; b < 256; b++)
            if (MapsToItself(b)) order[n++] = (byte)b;
        // ... then the rest, mapped to U+0100 + k in ascending byte order.
        int shifted = 0;
        for (int b = 0; b < 256; b++)
            if (!MapsToItself(b)) { order[n++] = (byte)b; byteToChar[b] = (char)(0x100 + shifted++); }
        Array.Fill(charToByte, (short)-1);
        for (int i = 0; i < 256; i++)
        {
            byte b = order[i];
            if (MapsToItself(b)) byteToChar[b] = (char)b;
            charToByte[byteToChar[b]] = b;
        }
    }

    static bool MapsToItself(int b) => b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';

    /// <summary>The character that stands for byte <paramref name="b"/>.</summary>
    public static char ByteToChar(byte b) => byteToChar[b];

    /// <summary>The byte a character stands for; false when the character is not in the alphabet.</summary>
    public static bool TryCharToByte(char c, out byte b)
    {
        int v = c < charToByte.Length ? charToByte[c] : -1;
        b = (byte)v;
        return v >= 0;
    }

    /// <summary>The 256 bytes in GPT-2 order (the order of their characters' code points),
    /// which is the order Hugging Face gives the byte tokens in a trained vocabulary.</summary>
    public static ReadOnlySpan<byte> BytesInOrder => order;
}
