using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace SharpLM.Cli.DemoTask;

/// <summary>
/// Assigns a word to a split from the SHA-256 of its lower-cased UTF-8 spelling (not .NET's string hash, which
/// is randomised per process). The split is a function of the word alone, so both tasks agree on it and changing
/// filters or size caps can drop a held-out word but never move it into training.
/// </summary>
static class WordSplitter
{
    /// <summary>The first 8 bytes of SHA-256(lower-cased word), big-endian: a stable, uniformly spread number.</summary>
    public static ulong Hash(string word)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(word.ToLowerInvariant()), digest);
        return BinaryPrimitives.ReadUInt64BigEndian(digest);
    }

    /// <summary>Test for the lowest <paramref name="testPercent"/> of the hash range, valid for the next
    /// <paramref name="validPercent"/>, train for the rest.</summary>
    public static DemoTaskSplit SplitOf(string word, double validPercent, double testPercent)
    {
        // The top 53 bits as a fraction in [0, 1): exact in a double, so the same on every machine.
        double position = (Hash(word) >> 11) / (double)(1UL << 53);
        if (position < testPercent / 100) return DemoTaskSplit.Test;
        if (position < (testPercent + validPercent) / 100) return DemoTaskSplit.Valid;
        return DemoTaskSplit.Train;
    }
}
