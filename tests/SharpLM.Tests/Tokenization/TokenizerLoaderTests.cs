using System.Text;
using System.Text.Json.Nodes;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

public sealed class TokenizerLoaderTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("sharplm-loader-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(string json)
    {
        string path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, json);
        return path;
    }

    static string Tiny() => Encoding.UTF8.GetString(SentencePieceBpeJson.Serialize(SentencePieceBpeTokenizerTests.Tiny()));

    static string Edit(string json, Action<JsonObject> edit)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        edit(node);
        return node.ToJsonString();
    }

    [Fact]
    public void PicksTheClassByTheFilesKind()
    {
        TestCorpus.Tokenizer.Save(Path.Combine(dir, "tokenizer.json"));
        var byteLevel = Assert.IsType<ByteLevelBpeTokenizer>(TokenizerLoader.Load(dir));
        Assert.Equal(TestCorpus.Tokenizer.Encode("the model learns"), byteLevel.Encode("the model learns"));

        var sentencePiece = Assert.IsType<SentencePieceBpeTokenizer>(TokenizerLoader.Load(Write(Tiny())));
        Assert.Equal([14], sentencePiece.Encode("abc"));

        // Llama-3 style: Split then ByteLevel inside a Sequence; the decoder alone also marks a byte-level file.
        var llama3 = Edit(Encoding.UTF8.GetString(TokenizerJson.Serialize(TestCorpus.Tokenizer)), j => j["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject
                {
                    ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = PreTokenizer.Gpt2Pattern }, ["behavior"] = "Isolated",
                    ["invert"] = false,
                },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
        });
        Assert.IsType<ByteLevelBpeTokenizer>(TokenizerLoader.Load(Write(llama3)));
        var decoderOnly = Edit(Encoding.UTF8.GetString(TokenizerJson.Serialize(TestCorpus.Tokenizer)), j => j["pre_tokenizer"] = null);
        Assert.Contains("field \"pre_tokenizer\" is missing",
            Assert.Throws<SharpLMException>(() => TokenizerLoader.Load(Write(decoderOnly))).Message);
    }

    public static TheoryData<string, string> Unsupported() => new()
    {
        { Edit(Tiny(), j => j["model"]!["type"] = "WordPiece"), "model.type: \"WordPiece\" is not supported" },
        { Edit(Tiny(), j => j["model"]!["type"] = "Unigram"), "model.type: \"Unigram\" is not supported" },
        { Edit(Tiny(), j => j["normalizer"] = new JsonObject { ["type"] = "NFKC" }), "normalizer: type NFKC is not supported" },
        {
            Edit(Tiny(), j => j["normalizer"]!["normalizers"]!.AsArray().Add(new JsonObject { ["type"] = "Lowercase" })),
            "normalizer.normalizers[2]: type Lowercase"
        },
        {
            Edit(Tiny(), j => j["normalizer"]!["normalizers"]![1]!["pattern"] = new JsonObject { ["Regex"] = " +" }),
            "normalizer.normalizers[1].pattern: only a non-empty {\"String\""
        },
        { Edit(Tiny(), j => j["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" }), "pre_tokenizer: type Whitespace is not supported" },
        {
            Edit(Tiny(), j => j["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "ab" }),
            "field \"pre_tokenizer.replacement\" is the string \"ab\", expected one character"
        },
        {
            Edit(Tiny(), j => j["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "sometimes",
            }),
            "pre_tokenizer.prepend_scheme: \"sometimes\""
        },
        {
            Edit(Tiny(), j => j["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["add_prefix_space"] = false,
            }),
            "pre_tokenizer.add_prefix_space: false contradicts"
        },
        {
            Edit(Tiny(), j => j["decoder"]!["decoders"]!.AsArray().Add(new JsonObject { ["type"] = "WordPiece" })),
            "decoder.decoders[4]: type WordPiece is not supported"
        },
        {
            Edit(Tiny(), j => j["decoder"]!["decoders"]![3]!["start"] = -1),
            "field \"decoder.decoders[3].start\" is the number -1, expected a non-negative integer"
        },
        { Edit(Tiny(), j => j["model"]!["ignore_merges"] = true), "model.ignore_merges: true is not supported" },
        { Edit(Tiny(), j => j["model"]!["dropout"] = 0.1), "model.dropout: BPE dropout is not supported" },
        { Edit(Tiny(), j => j["model"]!["continuing_subword_prefix"] = "##"), "model.continuing_subword_prefix: \"##\" is not supported" },
        { Edit(Tiny(), j => j["model"]!["unk_token"] = "<nope>"), "model.unk_token: \"<nope>\" is not in model.vocab" },
        { Edit(Tiny(), j => j["added_tokens"]![1]!["lstrip"] = true), "added_tokens[1].lstrip: true is not supported" },
        {
            Edit(Tiny(), j => j["added_tokens"]![1]!["normalized"] = "yes"),
            "field \"added_tokens[1].normalized\" is the string \"yes\", expected true or false"
        },
        {
            Edit(Tiny(), j => j["model"]!["merges"]!.AsArray().Add(new JsonArray("a", "z"))),
            "model.merges[5] (\"a\" \"z\"): token \"z\" is not in model.vocab"
        },
        {
            Edit(Encoding.UTF8.GetString(TokenizerJson.Serialize(TestCorpus.Tokenizer)), j => j["model"]!["byte_fallback"] = true),
            "model.byte_fallback: true is not supported"
        },
        { "{\"model\": {\"type\": \"BPE\"", "malformed JSON" },
    };

    [Theory]
    [MemberData(nameof(Unsupported))]
    public void UnsupportedFilesGiveErrorsNamingFileAndField(string json, string message)
    {
        string path = Write(json);
        var e = Assert.Throws<SharpLMException>(() => TokenizerLoader.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void MissingFileIsReported()
    {
        var e = Assert.Throws<SharpLMException>(() => TokenizerLoader.Load(dir));
        Assert.Contains(Path.Combine(dir, "tokenizer.json"), e.Message);
    }
}
