using SharpLM.Data;
using Xunit;

namespace SharpLM.Tests.Data;

public class JsonlCorpusTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static CorpusReader Reader(string path, bool skipInvalid = false, string field = "text") =>
        new([path], new CorpusOptions { JsonlField = field, SkipInvalid = skipInvalid });

    [Fact]
    public void ReadsTheTextFieldOfEachLine()
    {
        string path = dir.Write("data.jsonl",
            "{\"text\": \"Hello\\r\\nworld\", \"id\": 1}\r\n\n   \n{\"id\": 2, \"text\": \"ünïcode \\u2603\"}\n{\"text\": \"\"}");
        var reader = Reader(path);
        var documents = reader.ReadDocuments().ToList();

        Assert.Equal(["Hello\r\nworld", "ünïcode ☃"], documents.Select(d => d.Text));
        Assert.Equal([$"{path}:1", $"{path}:4"], documents.Select(d => d.Source));
        Assert.Equal(1, reader.Stats.Empty);
    }

    [Fact]
    public void FieldNameIsConfigurable()
    {
        string path = dir.Write("data.jsonl", "{\"content\": \"abc\", \"text\": \"no\"}\n");
        Assert.Equal("abc", Assert.Single(Reader(path, field: "content").ReadDocuments()).Text);
    }

    [Fact]
    public void BomBeforeFirstLineIsIgnored()
    {
        string path = dir.Write("bom.jsonl", [0xEF, 0xBB, 0xBF, .. "{\"text\":\"x\"}"u8]);
        Assert.Equal("x", Assert.Single(Reader(path).ReadDocuments()).Text);
    }

    [Fact]
    public void MalformedLineNamesFileLineAndParserMessage()
    {
        string path = dir.Write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n");
        var e = Assert.Throws<SharpLMException>(() => Reader(path).ReadDocuments().ToList());
        Assert.StartsWith($"{path}:2: malformed JSON: ", e.Message);
        Assert.True(e.Message.Length > $"{path}:2: malformed JSON: ".Length, "the parser's message is included");
    }

    [Theory]
    [InlineData("{\"txt\": \"typo\", \"id\": 3}", "field \"text\" is missing (the object has fields \"txt\", \"id\")")]
    [InlineData("{\"text\": 42}", "field \"text\" is a number, expected a string")]
    [InlineData("{\"text\": null}", "field \"text\" is null, expected a string")]
    [InlineData("{\"text\": [\"a\"]}", "field \"text\" is an array, expected a string")]
    [InlineData("[\"text\"]", "expected a JSON object with a string field \"text\", got an array")]
    public void BadTextFieldNamesFileLineAndField(string line, string expected)
    {
        string path = dir.Write("bad.jsonl", "{\"text\": \"fine\"}\n" + line + "\n");
        var e = Assert.Throws<SharpLMException>(() => Reader(path).ReadDocuments().ToList());
        Assert.Equal($"{path}:2: {expected}", e.Message);
    }

    [Fact]
    public void InvalidUtf8NamesLineAndByteOffset()
    {
        byte[] bytes = [.. "{\"text\":\"a\"}\n{\"text\":\""u8, 0xC3, 0x28, .. "\"}\n"u8];
        string path = dir.Write("bad.jsonl", bytes);
        var e = Assert.Throws<SharpLMException>(() => Reader(path).ReadDocuments().ToList());
        Assert.StartsWith($"{path}:2: invalid UTF-8 at byte offset {Array.IndexOf(bytes, (byte)0xC3)} (byte 0xC3)", e.Message);
    }

    [Fact]
    public void SkipInvalidCountsBadLinesAndKeepsGoodOnes()
    {
        byte[] bytes = [.. "{\"text\":\"one\"}\nnot json\n{\"body\":\"x\"}\n{\"text\":\""u8, 0xFF, .. "\"}\n{\"text\":\"two\"}\n"u8];
        string path = dir.Write("mixed.jsonl", bytes);
        var reader = Reader(path, skipInvalid: true);

        var documents = reader.ReadDocuments().ToList();

        Assert.Equal(["one", "two"], documents.Select(d => d.Text));
        Assert.Equal(3, reader.Stats.Skipped);
        Assert.Equal(3, reader.Stats.SkippedExamples.Count);
        Assert.StartsWith($"{path}:2: malformed JSON", reader.Stats.SkippedExamples[0]);
        Assert.StartsWith($"{path}:3: field \"text\" is missing", reader.Stats.SkippedExamples[1]);
        Assert.StartsWith($"{path}:4: invalid UTF-8", reader.Stats.SkippedExamples[2]);
    }

    [Fact]
    public void AllLinesSkippedMeansNoDocuments()
    {
        string path = dir.Write("junk.jsonl", "junk\nmore junk\n");
        var e = Assert.Throws<SharpLMException>(() => Reader(path, skipInvalid: true).ReadDocuments().ToList());
        Assert.Contains("has no documents", e.Message);
        Assert.Contains("2 invalid record(s) skipped", e.Message);
    }
}
