using System.IO.Compression;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

/// <summary>
/// SharpLM against Hugging Face tokenizers on Qwen2.5's real tokenizer.json (byte-level BPE, 151,643 tokens, an NFC
/// normalizer and Qwen's split pattern, tests/fixtures/qwen2.5). The expected ids and texts in <see cref="Qwen2Reference"/>
/// were produced by Hugging Face tokenizers 0.23.2 (npm) with tests/fixtures/qwen2.5/make-reference.js.
/// </summary>
public class Qwen2TokenizerTests
{
    internal static readonly Lazy<ByteLevelBpeTokenizer> Qwen = new(() =>
    {
        using var gz = new GZipStream(File.OpenRead(Fixtures.Path("qwen2.5", "tokenizer.json.gz")), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gz.CopyTo(bytes);
        return (ByteLevelBpeTokenizer)TokenizerLoader.Parse(bytes.ToArray(), "qwen2.5/tokenizer.json");
    });

    public static TheoryData<int> Rows() => [.. Enumerable.Range(0, Qwen2Reference.Qwen25.Length)];

    [Theory]
    [MemberData(nameof(Rows))]
    public void EncodesAndDecodesAsHuggingFaceTokenizers(int row)
    {
        var (text, ids, decoded, decodedSkipSpecial) = Qwen2Reference.Qwen25[row];
        var tokenizer = Qwen.Value;
        if (!UnicodeNfc.Available && text.AsSpan().ContainsAnyInRange('\u0300', '\uffff'))
        {
            // A machine without ICU: text that may need NFC is refused with the reason, never tokenized differently.
            Assert.Contains("needs the ICU library", Assert.Throws<SharpLMException>(() => tokenizer.Encode(text, allowSpecial: true)).Message);
            return;
        }
        Assert.Equal(ids, tokenizer.Encode(text, allowSpecial: true));
        Assert.Equal(decoded, tokenizer.Decode(ids));
        Assert.Equal(decodedSkipSpecial, tokenizer.Decode(ids, skipSpecial: true));
    }

    [Fact]
    public void TheNfcNormalizerSurvivesSaving()
    {
        Assert.True(Qwen.Value.NormalizeNfc);
        using var dir = new TempDirectory();
        Qwen.Value.Save(dir.File("tokenizer.json"));
        var reloaded = (ByteLevelBpeTokenizer)TokenizerLoader.Load(dir.Path);
        Assert.True(reloaded.NormalizeNfc);
        Assert.Equal(Qwen.Value.Encode("e\u0301t\u00e9"), reloaded.Encode("e\u0301t\u00e9"));
        Assert.Equal("\u00e9t\u00e9", reloaded.Decode(reloaded.Encode("e\u0301t\u00e9")));
    }
}
