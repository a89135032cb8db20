using System.Text;
using SharpLM.Tokenization;

namespace SharpLM.Tests;

/// <summary>A trivial tokenizer for tests that must not depend on BPE: ids 0..3 are [PAD] [BOT] [EOT] [UNK],
/// id 4 + b is the UTF-8 byte b.</summary>
sealed class TestByteTokenizer : ITokenizer
{
    static readonly string[] Specials = ["[PAD]", "[BOT]", "[EOT]", "[UNK]"];

    public int VocabSize => 4 + 256;
    public SpecialTokenIds Special { get; } = new(0, 1, 2, 3);

    public int[] Encode(string text, bool allowSpecial = false) =>
        Encoding.UTF8.GetBytes(text).Select(b => 4 + (int)b).ToArray();

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var bytes = new List<byte>();
        var sb = new StringBuilder();
        foreach (var id in ids)
        {
            if (id >= 4) { bytes.Add((byte)(id - 4)); continue; }
            sb.Append(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
            if (!skipSpecial) sb.Append(Specials[id]);
        }
        return sb.Append(Encoding.UTF8.GetString(bytes.ToArray())).ToString();
    }

    public int? TokenToId(string token) => Array.IndexOf(Specials, token) is var i and >= 0 ? i : null;
    public string? IdToToken(int id) => id < 4 ? Specials[id] : id < VocabSize ? ((char)(id - 4)).ToString() : null;
    public void Save(string path) => throw new NotSupportedException();
}
