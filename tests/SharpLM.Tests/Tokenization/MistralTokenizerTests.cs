using System.Text;
using System.Text.Json.Nodes;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

/// <summary>
/// SharpLM against Hugging Face tokenizers on a real third-party file, Mistral-7B's tokenizer.json, and
/// on variants of it in the other forms Llama-family files take. The expected ids and texts in
/// <see cref="MistralReference"/> were produced by Hugging Face tokenizers 0.23.2 (npm) with
/// tests/fixtures/mistral-7b/make-reference.js, which builds the same variants as <see cref="Variant"/>.
/// </summary>
public sealed class MistralTokenizerTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("sharplm-mistral-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static SentencePieceBpeTokenizer Variant(string name)
    {
        if (name == nameof(MistralReference.Mistral)) return MistralFixture.Tokenizer;
        var json = MistralFixture.Node();
        const string metaspace = "\u2581";
        switch (name)
        {
            case nameof(MistralReference.MetaspaceFirst):
                json["normalizer"] = null;
                json["pre_tokenizer"] = new JsonObject
                {
                    ["type"] = "Metaspace", ["replacement"] = metaspace, ["prepend_scheme"] = "first", ["split"] = false,
                };
                break;
            case nameof(MistralReference.MetaspaceLegacy):
                json["normalizer"] = null;
                json["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = metaspace, ["add_prefix_space"] = true };
                json["decoder"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = metaspace, ["add_prefix_space"] = true };
                break;
            case nameof(MistralReference.MetaspaceNever):
                json["normalizer"] = null;
                json["pre_tokenizer"] = new JsonObject
                {
                    ["type"] = "Metaspace", ["replacement"] = metaspace, ["prepend_scheme"] = "never", ["split"] = true,
                };
                break;
            case nameof(MistralReference.NoByteFallback):
                json["model"]!["byte_fallback"] = false;
                break;
            case nameof(MistralReference.NoFuseUnk):
                json["model"]!["byte_fallback"] = false;
                json["model"]!["fuse_unk"] = false;
                break;
            case nameof(MistralReference.NormalizedAdded):
                foreach (var token in json["added_tokens"]!.AsArray()) token!["normalized"] = true;
                break;
            case nameof(MistralReference.CrossMerge):
                json["model"]!["vocab"]!["o" + metaspace] = 32000;
                json["model"]!["merges"]!.AsArray().Insert(0, "o " + metaspace);
                break;
            default:
                throw new ArgumentException(name);
        }
        return (SentencePieceBpeTokenizer)TokenizerLoader.Parse(Encoding.UTF8.GetBytes(json.ToJsonString()), name);
    }

    static (string Text, int[] Ids, string Decoded, string DecodedSkipSpecial)[] Rows(string name) => name switch
    {
        nameof(MistralReference.Mistral) => MistralReference.Mistral,
        nameof(MistralReference.MetaspaceFirst) => MistralReference.MetaspaceFirst,
        nameof(MistralReference.MetaspaceLegacy) => MistralReference.MetaspaceLegacy,
        nameof(MistralReference.MetaspaceNever) => MistralReference.MetaspaceNever,
        nameof(MistralReference.NoByteFallback) => MistralReference.NoByteFallback,
        nameof(MistralReference.NoFuseUnk) => MistralReference.NoFuseUnk,
        nameof(MistralReference.NormalizedAdded) => MistralReference.NormalizedAdded,
        nameof(MistralReference.CrossMerge) => MistralReference.CrossMerge,
        _ => throw new ArgumentException(name),
    };

    [Fact]
    public void HelloWorldEncodesAsMistralWithoutBos()
    {
        var tokenizer = MistralFixture.Tokenizer;
        Assert.Equal([22557, 1526], tokenizer.Encode("Hello world"));
        Assert.Equal("Hello world", tokenizer.Decode([1, 22557, 1526], skipSpecial: true));
        Assert.Equal(32000, tokenizer.VocabSize);
        Assert.Equal(new SpecialTokenIds(null, 1, 2, 0), tokenizer.Special);
        Assert.Equal(13, tokenizer.TokenToId("<0x0A>"));
        Assert.Equal("▁Hello", tokenizer.IdToToken(22557));
    }

    [Theory]
    [InlineData(nameof(MistralReference.Mistral))]
    [InlineData(nameof(MistralReference.MetaspaceFirst))]
    [InlineData(nameof(MistralReference.MetaspaceLegacy))]
    [InlineData(nameof(MistralReference.MetaspaceNever))]
    [InlineData(nameof(MistralReference.NoByteFallback))]
    [InlineData(nameof(MistralReference.NoFuseUnk))]
    [InlineData(nameof(MistralReference.NormalizedAdded))]
    [InlineData(nameof(MistralReference.CrossMerge))]
    public void EncodesAndDecodesAsHuggingFace(string variant)
    {
        // Hugging Face always matches added tokens, as SharpLM does with allowSpecial.
        var tokenizer = Variant(variant);
        foreach (var (text, ids, decoded, decodedSkip) in Rows(variant))
        {
            Assert.True(ids.SequenceEqual(tokenizer.Encode(text, allowSpecial: true)),
                $"{variant} \"{text}\": expected [{string.Join(", ", ids)}], got [{string.Join(", ", tokenizer.Encode(text, allowSpecial: true))}]");
            Assert.Equal(decoded, tokenizer.Decode(ids));
            // Hugging Face 0.23 keeps special tokens marked "normalized" when skipping specials; SharpLM drops them.
            if (variant != nameof(MistralReference.NormalizedAdded)) Assert.Equal(decodedSkip, tokenizer.Decode(ids, skipSpecial: true));
        }
    }

    [Fact]
    public void SpecialTokensMarkedNormalizedAreSkippedWhenAsked()
    {
        var tokenizer = Variant(nameof(MistralReference.NormalizedAdded));
        Assert.Equal([1, 16230], tokenizer.Encode("<s>Hello", allowSpecial: true));
        Assert.Equal("<s>Hello", tokenizer.Decode([1, 16230]));
        Assert.Equal("Hello", tokenizer.Decode([1, 16230], skipSpecial: true));
        Assert.Equal("<s>", tokenizer.IdToToken(1));
    }

    [Fact]
    public void WithoutAllowSpecialSpecialTokensAreText()
    {
        // The reference: Hugging Face with the file's added_tokens removed.
        var tokenizer = MistralFixture.Tokenizer;
        foreach (var (text, ids, _, _) in MistralReference.NoSpecial)
            Assert.True(ids.SequenceEqual(tokenizer.Encode(text)), $"\"{text}\"");
    }

    [Fact]
    public void DecodesIdSequencesAsHuggingFace()
    {
        foreach (var (name, rows) in
                 new[] { ("Mistral", MistralReference.MistralDecode), ("MetaspaceLegacy", MistralReference.MetaspaceLegacyDecode) })
        {
            var tokenizer = Variant(name);
            foreach (var (ids, decoded, decodedSkip) in rows)
            {
                Assert.Equal(decoded, tokenizer.Decode(ids));
                Assert.Equal(decodedSkip, tokenizer.Decode(ids, skipSpecial: true));
            }
        }
    }

    [Fact]
    public void SavedFileLoadsBackAsTheSameTokenizer()
    {
        var original = MistralFixture.Tokenizer;
        string path = Path.Combine(dir, "tokenizer.json");
        original.Save(path);
        var loaded = Assert.IsType<SentencePieceBpeTokenizer>(TokenizerLoader.Load(dir));

        Assert.Equal(File.ReadAllBytes(path), SentencePieceBpeJson.Serialize(loaded));
        Assert.Equal(original.VocabSize, loaded.VocabSize);
        Assert.Equal(original.Special, loaded.Special);
        Assert.Equal(original.AddedTokens, loaded.AddedTokens);
        foreach (var (text, ids, decoded, _) in MistralReference.Mistral)
        {
            Assert.Equal(ids, loaded.Encode(text, allowSpecial: true));
            Assert.Equal(decoded, loaded.Decode(ids));
        }

        var json = JsonNode.Parse(File.ReadAllBytes(path))!;
        var source = MistralFixture.Node();
        Assert.True(JsonNode.DeepEquals(source["normalizer"], json["normalizer"]));
        Assert.True(JsonNode.DeepEquals(source["decoder"], json["decoder"]));
        Assert.True(JsonNode.DeepEquals(source["post_processor"], json["post_processor"]));
        Assert.True(JsonNode.DeepEquals(source["added_tokens"], json["added_tokens"]));
        Assert.True(JsonNode.DeepEquals(source["model"]!["vocab"], json["model"]!["vocab"]));
        Assert.Equal(source["model"]!["merges"]!.AsArray().Select(m => (string?)m),
            json["model"]!["merges"]!.AsArray().Select(m => string.Join(' ', m!.AsArray().Select(p => (string?)p))));
        Assert.True((bool)json["model"]!["byte_fallback"]!);
        Assert.True((bool)json["model"]!["fuse_unk"]!);
    }

    [Fact]
    public void MetaspaceFormRoundTrips()
    {
        var tokenizer = Variant(nameof(MistralReference.MetaspaceLegacy));
        var json = JsonNode.Parse(SentencePieceBpeJson.Serialize(tokenizer))!;
        Assert.Null(json["normalizer"]);
        Assert.Equal("always", (string?)json["pre_tokenizer"]!["prepend_scheme"]);
        Assert.True((bool)json["pre_tokenizer"]!["split"]!);
        Assert.Equal("Metaspace", (string?)json["decoder"]!["decoders"]![0]!["type"]);

        var loaded = SentencePieceBpeJson.Parse(SentencePieceBpeJson.Serialize(tokenizer), "legacy.json");
        Assert.Equal(tokenizer.Options.PreTokenizer, loaded.Options.PreTokenizer);
        foreach (var (text, ids, decoded, _) in MistralReference.MetaspaceLegacy)
        {
            Assert.Equal(ids, loaded.Encode(text, allowSpecial: true));
            Assert.Equal(decoded, loaded.Decode(ids));
        }
    }

    [Fact]
    public void DecodeInvertsEncodeExceptWhereTheFileLosesText()
    {
        var tokenizer = MistralFixture.Tokenizer;
        foreach (var text in RoundTripTests.AdversarialStrings.Concat(TestCorpus.Documents(50, seed: 3)))
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));

        var random = new Random(2024);
        for (int n = 0; n < 500; n++)
        {
            var chars = new char[random.Next(40)];
            for (int i = 0; i < chars.Length; i++)
                chars[i] = random.Next(3) switch
                {
                    0 => (char)random.Next(0x20, 0x7F),
                    1 => " \t\n\0"[random.Next(4)],
                    _ => (char)random.Next(0x10000),
                };
            // "▁" in the text decodes as a space (as in Hugging Face).
            string text = new string(chars).Replace('\u2581', 'x');
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Fact]
    public void EncodeIsThreadSafe()
    {
        var tokenizer = MistralFixture.Tokenizer;
        var texts = MistralReference.Mistral.Select(r => r.Text).Concat(TestCorpus.Documents(100, seed: 9)).ToArray();
        var expected = texts.Select(t => tokenizer.Encode(t)).ToArray();
        Parallel.For(0, texts.Length * 4, i => Assert.Equal(expected[i % texts.Length], tokenizer.Encode(texts[i % texts.Length])));
    }
}
