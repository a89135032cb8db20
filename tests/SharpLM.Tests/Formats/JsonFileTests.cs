using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using SharpLM.Generation;
using SharpLM.IO;
using SharpLM.Model;
using Xunit;

namespace SharpLM.Tests.Formats;

/// <summary>The one JSON reader: every problem in one style, naming the source, the field and what it is, what was
/// expected, and where System.Text.Json gives it the line and position.</summary>
public class JsonFileTests
{
    sealed class Sample
    {
        [JsonRequired, JsonPropertyName("name")] public string Name { get; set; } = "";
        [JsonPropertyName("count")] public int Count { get; set; }
        [JsonPropertyName("ids")] public List<int> Ids { get; set; } = [];
        [JsonPropertyName("inner")] public Inner? Inner { get; set; }
        [JsonPropertyName("mode")] public RepetitionPenaltyMode Mode { get; set; }
        [JsonPropertyName("eos"), JsonConverter(typeof(IntOrIntArrayConverter))] public int[]? Eos { get; set; }
    }

    sealed class Inner
    {
        [JsonPropertyName("rate")] public float Rate { get; set; }
    }

    // A fresh instance each time: binding must not depend on an earlier use having set the options up.
    static JsonSerializerOptions Options() => new() { Converters = { new JsonStringEnumConverter() } };

    static Sample Read(string json) => JsonFile.Deserialize<Sample>(Encoding.UTF8.GetBytes(json), "s.json", Options());

    [Theory]
    [InlineData("{\"name\": \"a\",\n \"count\": \"many\"}",
        "field \"count\" is the string \"many\", expected an integer between -2147483648 and 2147483647 (line 2, position ")]
    [InlineData("{\"name\": \"a\", \"count\": 1e10}", "field \"count\" is the number 1e10, expected an integer between -2147483648 and 2147483647 " +
                                                      "(line 1, position ")]
    [InlineData("{\"name\": \"a\", \"ids\": [1, \"x\"]}", "field \"ids[1]\" is the string \"x\", expected an integer between")]
    [InlineData("{\"name\": \"a\", \"inner\": {\"rate\": true}}", "field \"inner.rate\" is a boolean, expected a number")]
    [InlineData("{\"name\": \"a\", \"mode\": \"Sometimes\"}", "field \"mode\" is the string \"Sometimes\", expected one of PerOccurrence, Distinct")]
    [InlineData("{\"name\": \"a\", \"eos\": \"two\"}", "field \"eos\" is the string \"two\", expected a token id or a list of token ids")]
    [InlineData("{\"name\": \"a\", \"count\": 1e400}", "field \"count\" is the number 1e400, expected a number a double can hold " +
                                                       "(at most about 1.8e308) (line 1, position 24)")]
    [InlineData("{\"name\": \"\\ud800\"}", "field \"name\" holds an unpaired UTF-16 surrogate escape (such as \\ud800), expected valid text " +
                                           "(line 1, position 10)")]
    [InlineData("{\"count\": 1}", "field \"name\" is missing")]
    [InlineData("[1]", "the top-level value is an array, expected a JSON object")]
    [InlineData("{\"name\": \"a\",\n\n \"count\" 1}", "malformed JSON: '1' is invalid after a property name. Expected a ':' (line 3, position ")]
    public void EveryProblemNamesTheSourceTheFieldWhatItIsAndWhatWasExpected(string json, string message) =>
        Assert.StartsWith("s.json: " + message, Assert.Throws<SharpLMException>(() => Read(json)).Message);

    [Fact]
    public void InvalidUtf8AndUtf16AreRefusedAndAByteOrderMarkIsSkipped()
    {
        using var dir = new TempDirectory();
        string utf8 = dir.Write("a.json", [.. Encoding.UTF8.GetBytes("{\"name\":\n\"x"), 0xC3, 0x28, (byte)'"', (byte)'}']);
        Assert.Equal($"{utf8}: invalid UTF-8 (byte 0xC3), expected UTF-8 text (line 2, position 3)",
            Assert.Throws<SharpLMException>(() => JsonFile.Read<Sample>(utf8, "sample", Options())).Message);
        string utf16 = dir.Write("b.json", [0xFF, 0xFE, .. Encoding.Unicode.GetBytes("{\"name\": \"x\"}")]);
        Assert.StartsWith($"{utf16}: the file is UTF-16",
            Assert.Throws<SharpLMException>(() => JsonFile.Read<Sample>(utf16, "sample", Options())).Message);
        string bom = dir.Write("c.json", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("{\"name\": \"x\", \"count\": 3}")]);
        var sample = JsonFile.Read<Sample>(bom, "sample", Options(), out var fields);
        Assert.Equal(("x", 3), (sample.Name, sample.Count));
        Assert.Equal(["count", "name"], fields.Order());
    }

    [Fact]
    public void TheTypedFieldsOfADocumentFailInTheSameStyle()
    {
        using var document = JsonFile.Parse(Encoding.UTF8.GetBytes("{\"r\": \"four\"}"), "t.json");
        var root = document.RootElement;
        Assert.Equal("t.json: field \"r\" is the string \"four\", expected an integer between -2147483648 and 2147483647",
            Assert.Throws<SharpLMException>(() => JsonFile.OptionalInt(root, "r", "t.json")).Message);
        Assert.Equal("t.json: field \"lora_dropout\" is missing", JsonFile.Missing("lora_dropout", "t.json").Message);
        Assert.Equal("field \"x\" is an object, expected a string",
            JsonFile.Wrong(JsonFile.Parse(Encoding.UTF8.GetBytes("{}"), "u").RootElement, "x", "a string").Message);
    }
}
