using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Tests.Formats;
using SharpLM.Tests.Tokenization;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Interop;

/// <summary>
/// Real third-party vocabularies exported as GGUF and tokenized by llama.cpp itself (via LLamaSharp): Mistral-7B's
/// SentencePiece-style tokenizer.json, and GPT-2's vocabulary under the split rules of SmolLM ("smollm") and Llama-3
/// ("llama-bpe"). SharpLM's encoders match Hugging Face's on these files (see the Tokenization tests), so agreement
/// here means a fine-tuned SmolLM2, Llama-3.x, Mistral or TinyLlama runs in llama.cpp with the prompts it was trained on.
/// </summary>
[Collection(LlamaCppCollection.Name)]
public sealed class GgufTokenizerLlamaCppTests
{
    static IEnumerable<string> Texts =>
        Gpt2ReferenceTests.Texts.Concat(TestCorpus.Documents(20, seed: 5)).Concat(["", " ", "a", "12345 67", "x\n\n\ny"]);

    /// <summary>Exports a tiny random model with <paramref name="tokenizer"/>'s vocabulary and asserts that llama.cpp
    /// splits every text into the ids SharpLM gives; returns the file's metadata.</summary>
    static Dictionary<string, object> AssertLlamaCppTokenizesLikeSharpLm(ITokenizer tokenizer, string expectedPre, Func<string, bool>? usable = null)
    {
        using var dir = new TempDirectory();
        using var model = TestModels.Tiny(vocab: tokenizer.VocabSize);
        string path = dir.File("model.gguf");
        GgufExporter.Export(model, tokenizer, path, GgufTensorType.F32);
        var metadata = new GgufTestReader(path).Metadata;
        Assert.Equal(expectedPre, (string)metadata["tokenizer.ggml.pre"]);

        using var llama = new LlamaCppModel(path);
        var mismatches = Texts.Where(text => usable?.Invoke(text) ?? true)
            .Select(text => usable is null ? text : UnicodeNfc.Apply(text))
            .Select(text => (Text: text, Expected: tokenizer.Encode(text), Actual: llama.Tokenize(text)))
            .Where(r => !r.Expected.SequenceEqual(r.Actual))
            .Select(r => $"\"{r.Text}\": SharpLM [{string.Join(", ", r.Expected)}], llama.cpp [{string.Join(", ", r.Actual)}]")
            .ToList();
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        return metadata;
    }

    [Fact]
    public void MistralSentencePieceBpe()
    {
        var mistral = MistralFixture.Tokenizer;
        var metadata = AssertLlamaCppTokenizesLikeSharpLm(mistral, "default");
        Assert.Equal([22557, 1526], mistral.Encode("Hello world"));

        Assert.Equal("llama", metadata["tokenizer.ggml.model"]);
        Assert.Equal(true, metadata["tokenizer.ggml.add_space_prefix"]);
        var types = (object[])metadata["tokenizer.ggml.token_type"];
        var scores = (object[])metadata["tokenizer.ggml.scores"];
        int Id(string token) => mistral.TokenToId(token)!.Value;
        // llama.cpp's token types: 1 normal, 2 unknown, 3 control, 6 byte.
        Assert.Equal([2, 3, 3, 6, 1], new[] { "<unk>", "<s>", "</s>", "<0x41>", "\u2581the" }.Select(t => (int)types[Id(t)]));
        var (left, right) = mistral.Merges[0];
        Assert.Equal(0f, scores[Id(left + right)]);
        Assert.True((float)scores[Id("\u2581the")] < 0);
    }

    /// <summary>GPT-2's real vocabulary and merges under other split rules.</summary>
    static ByteLevelBpeTokenizer Gpt2SplittingWith(PreTokenizer preTokenizer, bool ignoreMerges = false)
    {
        var gpt2 = Gpt2ReferenceTests.Gpt2.Value;
        return new ByteLevelBpeTokenizer(gpt2.Vocab, gpt2.Merges, gpt2.AddedTokens, preTokenizer, ignoreMerges);
    }

    [Fact]
    public void Gpt2VocabularyWithSmolLmDigits() =>
        AssertLlamaCppTokenizesLikeSharpLm(
            Gpt2SplittingWith(new PreTokenizer(PreTokenizer.Gpt2Pattern, individualDigits: true)),
            "smollm");

    [Fact]
    public void Gpt2VocabularyWithLlama3Splitting() =>
        AssertLlamaCppTokenizesLikeSharpLm(
            Gpt2SplittingWith(new PreTokenizer(PreTokenizer.Llama3Pattern), ignoreMerges: true),
            "llama-bpe");

    [Fact]
    public void Qwen25ByteLevelBpe()
    {
        // llama.cpp does not apply tokenizer.json's NFC normalizer, so texts are given in NFC (what SharpLM feeds
        // the BPE after normalizing); Qwen2TokenizerTests checks the normalizing itself against Hugging Face.
        var qwen = Qwen2TokenizerTests.Qwen.Value;
        var metadata = AssertLlamaCppTokenizesLikeSharpLm(qwen, "qwen2", text => !UnicodeNfc.MayChange(text) || UnicodeNfc.Available);
        Assert.Equal("gpt2", metadata["tokenizer.ggml.model"]);
    }
}
