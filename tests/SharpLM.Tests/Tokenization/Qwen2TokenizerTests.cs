using System.IO.Compression;
using SharpLM.Chat;
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
        if (!UnicodeNfc.Available && UnicodeNfc.MayChange(text))
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

    [Fact]
    public void TokenizerConfigDecidesTheSpecialTokensOfAFolder()
    {
        using var dir = new TempDirectory();
        Qwen.Value.Save(dir.File("tokenizer.json"));
        var guessed = TokenizerLoader.Load(dir.Path).Special;
        Assert.Equal(151643, guessed.Bos); // <|endoftext|> by name, as for GPT-2 (the vocabulary's ordinary "<s>" is no candidate)

        // Qwen2.5-Instruct's tokenizer_config.json: no begin token, answers end with <|im_end|>.
        dir.Write("tokenizer_config.json",
            """{"bos_token": null, "eos_token": "<|im_end|>", "pad_token": {"content": "<|endoftext|>", "special": true}}""");
        var configured = TokenizerLoader.Load(dir.Path).Special;
        Assert.Null(configured.Bos);
        Assert.Equal(151645, configured.Eos);
        Assert.Equal(151643, configured.Pad);

        // Saving a chat template keeps those roles, "bos_token": null included.
        var template = ChatTemplates.LoadFromModel(dir.Path);
        Assert.Null(template);
        ChatTemplates.ChatMl.Save(dir.Path);
        Assert.Equal(configured, TokenizerLoader.Load(dir.Path).Special);
    }
}
