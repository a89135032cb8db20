using SharpLM.IO;
namespace SharpLM.Data;

/// <summary>
/// Splits a file into lines at '\n' before decoding, so an invalid byte can be reported by
/// line and file offset and a bad line can be skipped without losing the rest of the file.
/// ('\n' never occurs inside a multi-byte UTF-8 sequence, so splitting bytes is safe.)
/// A leading UTF-8 BOM is dropped. Lines keep their terminator ("\n" or "\r\n").
/// </summary>
internal sealed class Utf8LineReader : IDisposable
{
    readonly Stream stream;
    byte[] buffer = new byte[64 * 1024];
    int start, end;
    long bufferOffset; // file offset of buffer[0]
    bool endOfFile;

    public Utf8LineReader(Stream stream) => this.stream = stream;

    /// <summary>1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>File offset of the first byte of the line last returned.</summary>
    public long LineOffset { get; private set; }

    /// <summary>Whether the file started with bytes that look like a UTF-16 byte-order mark.</summary>
    public bool StartsWithUtf16Bom { get; private set; }

    /// <summary>The next line, valid until the next call; false at the end of the file.</summary>
    public bool TryReadLine(out ReadOnlyMemory<byte> line)
    {
        int scanned = 0;
        while (true)
        {
            int newline = buffer.AsSpan(start + scanned, end - start - scanned).IndexOf((byte)'\n');
            if (newline >= 0) return Take(scanned + newline + 1, out line);
            if (endOfFile)
            {
                if (end > start) return Take(end - start, out line);
                line = default;
                return false;
            }
            scanned = end - start;
            Fill();
        }
    }

    bool Take(int length, out ReadOnlyMemory<byte> line)
    {
        if (LineNumber == 0)
        {
            var first = buffer.AsSpan(start, length);
            StartsWithUtf16Bom = StrictUtf8.StartsWithUtf16Bom(first);
            if (first.StartsWith(StrictUtf8.Bom))
            {
                start += StrictUtf8.Bom.Length;
                length -= StrictUtf8.Bom.Length;
            }
        }
        LineNumber++;
        LineOffset = bufferOffset + start;
        line = buffer.AsMemory(start, length);
        start += length;
        return true;
    }

    void Fill()
    {
        // Keep the partial line: move it to the front, or grow the buffer for a very long line.
        if (start > 0)
        {
            Array.Copy(buffer, start, buffer, 0, end - start);
            bufferOffset += start;
            end -= start;
            start = 0;
        }
        if (end == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
        int read = stream.Read(buffer, end, buffer.Length - end);
        if (read == 0) endOfFile = true;
        end += read;
    }

    public void Dispose() => stream.Dispose();
}
