using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

public class RoundTripTests
{
    public static readonly string[] AdversarialStrings =
    [
        "",
        "Hello, World! it's 2024.",
        "emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
        "中文字符 日本語 한국어",
        "combining e\u0301 a\u0308 क्ष",
        "math 𝐀𝐁 𝟎𝟏 ext-b 𠀀",
        "NUL\0in\0the middle\0",
        "control \u0001\u0002\u001b[0m\u007f\u0085",
        "windows\r\nline\r\n\r\nends\r",
        "tabs\t\tand\v\fform feeds",
        new string(' ', 1000) + "x" + new string('\n', 500),
        "lone high \uD800 and low \uDC00 surrogates",
        "\uDFFF\uD800",
        "reversed pair \uDE00\uD83D",
        "high at end \uD83D",
        "\uFFFD\uFFFE\uFFFF replacement and noncharacters",
        "[PAD] [BOT] looks special but is text [EOT][UNK]",
        "Ġ Ċ ĠĠ byte-level look-alikes",
    ];

    // A Fact, not a Theory: xunit's theory-data serialization replaces lone surrogates with U+FFFD.
    [Fact]
    public void DecodeInvertsEncode()
    {
        var tokenizer = TestCorpus.Tokenizer;
        Assert.Contains(AdversarialStrings, s => s.Contains('\uD800'));
        foreach (var text in AdversarialStrings)
        {
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text, allowSpecial: true)));
        }
    }

    [Fact]
    public void RandomUtf16CodeUnitsRoundTrip()
    {
        var tokenizer = TestCorpus.Tokenizer;
        var random = new Random(12345);
        for (int n = 0; n < 2000; n++)
        {
            var chars = new char[random.Next(60)];
            for (int i = 0; i < chars.Length; i++)
            {
                chars[i] = random.Next(4) switch
                {
                    0 => (char)random.Next(0x20, 0x7F),
                    1 => (char)random.Next(0xD800, 0xE000),
                    2 => " \t\r\n\0"[random.Next(5)],
                    _ => (char)random.Next(0x10000),
                };
            }
            var text = new string(chars);
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Fact]
    public void LongRunsEncodeQuickly()
    {
        // A single piece of 200k characters must not take quadratic time.
        var tokenizer = TestCorpus.Tokenizer;
        foreach (var text in new[] { new string('a', 200_000), new string(' ', 200_000), string.Concat(Enumerable.Repeat("the", 70_000)) })
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void SpecialTokensRoundTripWhenAllowed()
    {
        var tokenizer = TestCorpus.Tokenizer;
        var ids = tokenizer.Encode("[BOT]the model[EOT][PAD]", allowSpecial: true);
        Assert.Equal(1, ids[0]);
        Assert.Equal([2, 0], ids[^2..]);
        Assert.Equal("[BOT]the model[EOT][PAD]", tokenizer.Decode(ids));
        Assert.Equal("the model", tokenizer.Decode(ids, skipSpecial: true));
    }

    [Fact]
    public void InvalidByteSequencesDecodeToReplacementCharacters()
    {
        var tokenizer = TestCorpus.Tokenizer;
        int Byte(byte b) => tokenizer.TokenToId(ByteLevelAlphabet.ByteToChar(b).ToString())!.Value;
        Assert.Equal("a\uFFFD", tokenizer.Decode([Byte((byte)'a'), Byte(0xE4), Byte(0xB8)]));
        Assert.Equal("\uFFFD", tokenizer.Decode([Byte(0xFF)]));
        Assert.Equal("a", tokenizer.Decode([Byte((byte)'a'), 1_000_000, -1]));
    }
}
