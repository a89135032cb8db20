using System.Text;
using System.Text.Json.Nodes;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

public sealed class TokenizerJsonTests : IDisposable
{
    const string Llama3Pattern = PreTokenizer.Llama3Pattern;

    readonly string dir = Directory.CreateTempSubdirectory("sharplm-tokjson-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void SaveAndLoadGiveIdenticalEncodingsAndBytes()
    {
        var original = TestCorpus.Tokenizer;
        string path = Path.Combine(dir, "tokenizer.json");
        original.Save(path);
        var loaded = ByteLevelBpeTokenizer.Load(path);

        Assert.Equal(File.ReadAllBytes(path), TokenizerJson.Serialize(loaded));
        Assert.Equal(original.VocabSize, loaded.VocabSize);
        Assert.Equal(original.Special, loaded.Special);
        foreach (var text in TestCorpus.Documents(100, seed: 5).Concat(RoundTripTests.AdversarialStrings))
        {
            Assert.Equal(original.Encode(text), loaded.Encode(text));
            Assert.Equal(original.Encode(text, allowSpecial: true), loaded.Encode(text, allowSpecial: true));
        }
    }

    [Fact]
    public void WritesHuggingFaceLayout()
    {
        var json = JsonNode.Parse(TokenizerJson.Serialize(TestCorpus.Tokenizer))!;
        Assert.Equal("1.0", (string?)json["version"]);
        Assert.Null(json["normalizer"]);
        Assert.Equal("ByteLevel", (string?)json["pre_tokenizer"]!["type"]);
        Assert.True((bool)json["pre_tokenizer"]!["use_regex"]!);
        Assert.False((bool)json["pre_tokenizer"]!["add_prefix_space"]!);
        Assert.Equal("ByteLevel", (string?)json["decoder"]!["type"]);
        var added = json["added_tokens"]!.AsArray();
        Assert.Equal(["[PAD]", "[BOT]", "[EOT]", "[UNK]"], added.Select(t => (string)t!["content"]!));
        Assert.All(added, t => Assert.True((bool)t!["special"]!));
        var model = json["model"]!;
        Assert.Equal("BPE", (string?)model["type"]);
        Assert.False((bool)model["byte_fallback"]!);
        Assert.Equal(0, (int)model["vocab"]!["[PAD]"]!);
        Assert.Equal(4 + 32 - 32, (int)model["vocab"]!["!"]!);
        Assert.Equal(4 + 188 + 32, (int)model["vocab"]!["Ġ"]!);
        var firstMerge = model["merges"]![0]!.AsArray();
        Assert.Equal(2, firstMerge.Count);
        Assert.Contains("\"Ġ\"", Encoding.UTF8.GetString(TokenizerJson.Serialize(TestCorpus.Tokenizer)));
    }

    [Fact]
    public void RoundTripsLlama3StylePreTokenizerAndIgnoreMerges()
    {
        var trained = TestCorpus.Tokenizer;
        var llamaStyle = new ByteLevelBpeTokenizer(trained.Vocab, trained.Merges, trained.AddedTokens, new PreTokenizer(Llama3Pattern),
            ignoreMerges: true);
        var json = JsonNode.Parse(TokenizerJson.Serialize(llamaStyle))!;
        var steps = json["pre_tokenizer"]!["pretokenizers"]!.AsArray();
        Assert.Equal("Split", (string?)steps[0]!["type"]);
        Assert.Equal(Llama3Pattern, (string?)steps[0]!["pattern"]!["Regex"]);
        Assert.Equal("Isolated", (string?)steps[0]!["behavior"]);
        Assert.False((bool)steps[1]!["use_regex"]!);

        var loaded = TokenizerJson.Parse(TokenizerJson.Serialize(llamaStyle), "llama.json");
        Assert.Equal(Llama3Pattern, loaded.PreTokenizer.Pattern);
        Assert.False(loaded.PreTokenizer.IndividualDigits);
        Assert.True(loaded.IgnoreMerges);
        Assert.Equal(llamaStyle.Encode("the model 12345 learns"), loaded.Encode("the model 12345 learns"));
    }

    [Theory]
    [InlineData(PreTokenizer.Gpt2Pattern, "Digits,ByteLevel")]
    [InlineData(Llama3Pattern, "Digits,Split,ByteLevel")]
    public void RoundTripsDigitsPreTokenizer(string pattern, string steps)
    {
        var trained = TestCorpus.Tokenizer;
        var tokenizer = new ByteLevelBpeTokenizer(trained.Vocab, trained.Merges, trained.AddedTokens,
            new PreTokenizer(pattern, individualDigits: true));
        var json = JsonNode.Parse(TokenizerJson.Serialize(tokenizer))!;
        Assert.Equal(steps, string.Join(",", json["pre_tokenizer"]!["pretokenizers"]!.AsArray().Select(s => (string?)s!["type"])));

        var loaded = TokenizerJson.Parse(TokenizerJson.Serialize(tokenizer), "digits.json");
        Assert.True(loaded.PreTokenizer.IndividualDigits);
        Assert.Equal(pattern, loaded.PreTokenizer.Pattern);
        Assert.Equal(tokenizer.Encode("in 2024 and 1999"), loaded.Encode("in 2024 and 1999"));
    }

    [Fact]
    public void SplitPatternsFromAFileCannotHang()
    {
        var trained = TestCorpus.Tokenizer;
        var json = JsonNode.Parse(TokenizerJson.Serialize(
            new ByteLevelBpeTokenizer(trained.Vocab, trained.Merges, trained.AddedTokens, new PreTokenizer(Llama3Pattern))))!;
        ByteLevelBpeTokenizer With(string pattern)
        {
            json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = pattern;
            return TokenizerJson.Parse(Encoding.UTF8.GetBytes(json.ToJsonString()), "evil/tokenizer.json");
        }
        var text = new string('a', 40) + "b";
        var clock = System.Diagnostics.Stopwatch.StartNew();

        // Without lookarounds the pattern runs in linear time.
        var linear = With("(a+)+$");
        Assert.Equal(text, linear.Decode(linear.Encode(text)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"(a+)+$ took {clock.Elapsed}");

        // With one it backtracks, until the match timeout names the file and field.
        var e = Assert.Throws<SharpLMException>(() => With("(?!x)(a+)+$").Encode(text));
        Assert.StartsWith("evil/tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: " +
                          "the regular expression \"(?!x)(a+)+$\" took longer than 2 s", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"refused only after {clock.Elapsed}");
    }

    [Fact]
    public void SaveReplacesTheFileAndLeavesNoTemporaryFile()
    {
        string path = Path.Combine(dir, "sub", "tokenizer.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "old");
        TestCorpus.Tokenizer.Save(path);
        Assert.Equal(TokenizerJson.Serialize(TestCorpus.Tokenizer), File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    public static TheoryData<string, string, string> Malformed() => new()
    {
        { "{", "tokenizer.json", "malformed JSON" },
        { "[]", "the top-level value is an array", "expected a JSON object" },
        { """{"pre_tokenizer": {"type": "ByteLevel"}}""", "field \"model\"", "is missing" },
        { Replace("\"type\": \"BPE\"", "\"type\": \"WordPiece\""), "model.type", "WordPiece" },
        { Replace("\"merges\": [", "\"merges\": [[\"q\", \"zz\"], "), "model.merges[0]", "\"zz\" is not in model.vocab" },
        { Replace("\"merges\": [", "\"merges\": [\"a b c\", "), "model.merges[0]", "one space" },
        {
            Replace("\"merges\": [", "\"merges\": [42, "), "field \"model.merges[0]\" is the number 42",
            "expected [\"left\", \"right\"] or \"left right\""
        },
        { Replace("\"normalizer\": null", "\"normalizer\": {\"type\": \"NFKC\"}"), "normalizer", "NFKC" },
        { Replace("\"add_prefix_space\": false", "\"add_prefix_space\": true"), "pre_tokenizer.add_prefix_space", "not supported" },
        { Replace("\"pre_tokenizer\": {", "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Whitespace\"}]}, \"x\": {"),
            "pre_tokenizer.pretokenizers", "[Whitespace] is not supported" },
        { Replace("\"byte_fallback\": false", "\"byte_fallback\": true"), "model.byte_fallback", "not supported" },
        { Replace("\"dropout\": null", "\"dropout\": 0.1"), "model.dropout", "not supported" },
        { Replace("\"lstrip\": false", "\"lstrip\": true"), "added_tokens[0].lstrip", "not supported" },
        { Replace("\"id\": 1,", "\"id\": 2,"), "added_tokens[1]", "would give it id 1" },
        { Replace("\"id\": 3,", "\"id\": 9999,"), "added_tokens[3]", "would give it id 3" },
        {
            Replace("\"vocab\": {", "\"vocab\": {\"x\": \"seven\", "), "field \"model.vocab[\"x\"]\" is the string \"seven\"",
            "expected an integer id"
        },
        { Replace("\"vocab\": {", "\"vocab\": {\"\\ud800\": 5000, "), "field \"model.vocab\"", "unpaired UTF-16 surrogate" },
        {
            Replace("\"added_tokens\": [", "\"added_tokens\": [{\"id\": 9000, \"content\": \"<extra>\"}, "), "added_tokens[0]",
            "would give it id 400"
        },
        { Replace("\"unk_token\": null", "\"unk_token\": \"<nope>\""), "model.unk_token", "<nope>" },
    };

    static string Replace(string from, string to)
    {
        string json = Encoding.UTF8.GetString(TokenizerJson.Serialize(TestCorpus.Tokenizer));
        Assert.Contains(from, json);
        int at = json.IndexOf(from, StringComparison.Ordinal);
        return json[..at] + to + json[(at + from.Length)..];
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFilesGiveClearErrors(string content, string field, string detail)
    {
        string path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<SharpLMException>(() => ByteLevelBpeTokenizer.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(field, e.Message);
        Assert.Contains(detail, e.Message);
    }

    [Fact]
    public void MissingFileIsReported()
    {
        string path = Path.Combine(dir, "absent.json");
        var e = Assert.Throws<SharpLMException>(() => TokenizerJson.Load(path));
        Assert.Contains(path, e.Message);
    }
}
