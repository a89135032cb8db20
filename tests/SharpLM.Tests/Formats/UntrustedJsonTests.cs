using System.Text;
using System.Text.Json.Nodes;
using SharpLM.Data;
using SharpLM.Formats;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tokenization;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Formats;

/// <summary>Every JSON file SharpLM reads refuses invalid text, wrong types and out-of-range values with a
/// <see cref="SharpLMException"/> naming the file and the field, never System.Text.Json's own exceptions.</summary>
public class UntrustedJsonTests
{
    const string LoneSurrogate = "\"\\ud800\"";
    static readonly byte[] InvalidUtf8 = [(byte)'"', 0xC3, 0x28, (byte)'"'];

    static SharpLMException Fails(Action read) => Assert.Throws<SharpLMException>(read);

    static void FailsNaming(Action read, params string[] parts)
    {
        var e = Fails(read);
        foreach (var part in parts) Assert.Contains(part, e.Message);
    }

    static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    static string TinyConfig() => TestModels.TinyConfig().ToJson();

    static string With(string json, string field, JsonNode? value)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node[field] = value;
        return node.ToJsonString();
    }

    static string WithRaw(string json, string field, string raw) =>
        JsonNode.Parse(json)!.AsObject().ToJsonString().TrimEnd('}') + $",\"{field}\":{raw}}}";

    [Fact]
    public void ConfigJsonRefusesLoneSurrogatesInvalidUtf8AndUtf16()
    {
        using var dir = new TempDirectory();
        string surrogate = dir.Write("a/config.json", WithRaw(TinyConfig(), "hidden_act", LoneSurrogate));
        FailsNaming(() => LlamaConfig.Load(surrogate), surrogate, "\"hidden_act\"", "surrogate");

        string invalid = dir.Write("b/config.json", Concat(Utf8("{\"model_type\": "), InvalidUtf8, Utf8("}")));
        FailsNaming(() => LlamaConfig.Load(invalid), invalid, "invalid UTF-8");

        string utf16 = dir.Write("c/config.json", Concat([0xFF, 0xFE], Encoding.Unicode.GetBytes(TinyConfig())));
        FailsNaming(() => LlamaConfig.Load(utf16), utf16, "UTF-16");
    }

    [Theory]
    [InlineData("vocab_size", "\"64\"", "vocab_size")]
    [InlineData("eos_token_id", "\"two\"", "eos_token_id")]
    [InlineData("eos_token_id", "1e10", "eos_token_id")]
    [InlineData("rms_norm_eps", "1e400", "rms_norm_eps")]
    [InlineData("rms_norm_eps", "1e308", "rms_norm_eps")]
    [InlineData("rms_norm_eps", "0", "rms_norm_eps")]
    [InlineData("rope_theta", "1e308", "rope_theta")]
    [InlineData("rope_theta", "-1", "rope_theta")]
    [InlineData("eos_token_id", "-5", "eos_token_id")]
    [InlineData("eos_token_id", "64", "eos_token_id")]
    [InlineData("bos_token_id", "1000000", "bos_token_id")]
    public void ConfigJsonValuesOfTheWrongTypeOrRangeNameTheField(string field, string raw, string named)
    {
        using var dir = new TempDirectory();
        string path = dir.Write("config.json", WithRaw(TinyConfig(), field, raw));
        FailsNaming(() => LlamaConfig.Load(path), path, named);
    }

    [Fact]
    public void GenerationConfigNamesTheFileAndField()
    {
        using var dir = new TempDirectory();
        FailsNaming(() => GenerationConfig.Load(dir.Write("a.json", """{"temperature": -1}""")), "a.json", "\"temperature\"", "-1");
        FailsNaming(() => GenerationConfig.Load(dir.Write("b.json", """{"top_p": 1.5}""")), "b.json", "\"top_p\"");
        FailsNaming(() => GenerationConfig.Load(dir.Write("c.json", """{"top_k": "many"}""")), "c.json", "top_k");
        FailsNaming(() => GenerationConfig.Load(dir.Write("d.json", $$"""{"x": {{LoneSurrogate}}}""")), "d.json", "\"x\"", "surrogate");
        FailsNaming(() => GenerationConfig.Load(dir.Write("e.json", "[1, 2]")), "e.json", "expected a JSON object");
        FailsNaming(() => GenerationConfig.Load(dir.Write("f.json", """{"max_new_tokens": -3}""")), "f.json", "max_new_tokens");
    }

    static string AdapterConfig(Action<JsonObject>? edit = null)
    {
        var json = new JsonObject { ["peft_type"] = "LORA", ["r"] = 4, ["lora_alpha"] = 8, ["target_modules"] = new JsonArray("q_proj") };
        edit?.Invoke(json);
        return json.ToJsonString();
    }

    [Theory]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("42", "expected a JSON object")]
    [InlineData("""{"peft_type": 7, "r": 4, "target_modules": ["q_proj"]}""", "\"peft_type\"")]
    [InlineData("""{"r": "four", "target_modules": ["q_proj"]}""", "\"r\"")]
    [InlineData("""{"r": 4, "target_modules": ["q_proj"], "use_dora": "no"}""", "\"use_dora\"")]
    [InlineData("""{"r": 4, "target_modules": [1, 2]}""", "target_modules")]
    [InlineData("""{"r": 4, "target_modules": ["q_proj"], "lora_dropout": 1.5}""", "lora_dropout")]
    [InlineData("""{"r": 4, "target_modules": ["q_proj"], "lora_dropout": -0.1}""", "lora_dropout")]
    [InlineData("""{"r": 4, "target_modules": ["q_proj"], "lora_alpha": 1e400}""", "lora_alpha")]
    [InlineData("""{"r": 4, "target_modules": ["q_proj"], "base_model_name_or_path": "\ud800"}""", "base_model_name_or_path")]
    public void AdapterConfigOfTheWrongShapeNamesTheFileAndField(string json, string named)
    {
        using var dir = new TempDirectory();
        dir.Write("adapter_config.json", json);
        FailsNaming(() => AdapterFolder.ReadConfig(dir.Path), "adapter_config.json", named);
    }

    [Fact]
    public void TokenizerFilesRefuseInvalidText()
    {
        using var dir = new TempDirectory();
        string folder = dir.File("tok");
        TestCorpus.Tokenizer.Save(Path.Combine(folder, "tokenizer.json"));
        string config = dir.Write("tok/tokenizer_config.json", $$"""{"bos_token": {{LoneSurrogate}}}""");
        FailsNaming(() => TokenizerLoader.Load(folder), config, "\"bos_token\"", "surrogate");
        dir.Write("tok/tokenizer_config.json", Concat(Utf8("{\"eos_token\": "), InvalidUtf8, Utf8("}")));
        FailsNaming(() => TokenizerLoader.Load(folder), config, "invalid UTF-8");
        File.Delete(config);

        string tokenizer = dir.Write("bad/tokenizer.json", Concat(Utf8("{\"version\": "), InvalidUtf8, Utf8("}")));
        FailsNaming(() => TokenizerLoader.Load(tokenizer), tokenizer, "invalid UTF-8");
    }

    [Fact]
    public void ShardIndexAndSafetensorsHeaderRefuseInvalidText()
    {
        using var dir = new TempDirectory();
        string index = dir.Write("model.safetensors.index.json", "{\"weight_map\": {\"a\": " + LoneSurrogate + "}}");
        FailsNaming(() => SafetensorsIndex.Open(index), index, "\"weight_map.a\"", "surrogate");

        string header = dir.Write("x.safetensors", SafetensorsBytes.Build("{\"__metadata__\": {\"format\": " + LoneSurrogate + "}}", []));
        FailsNaming(() => SafetensorsFile.Open(header), header, "\"__metadata__.format\"", "surrogate");
        string utf8 = dir.Write("y.safetensors", SafetensorsBytes.Build("{\"__metadata__\": {\"format\": \"\u00e9\"}}", []));
        var bytes = File.ReadAllBytes(utf8);
        bytes[Array.IndexOf(bytes, (byte)0xC3)] = 0xFF;
        File.WriteAllBytes(utf8, bytes);
        FailsNaming(() => SafetensorsFile.Open(utf8), utf8, "invalid UTF-8");
    }

    [Fact]
    public void InstructionJsonlWithALoneSurrogateOrHugeNumberIsRefusedOrSkippedAndCounted()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("data.jsonl",
            "{\"prompt\": \"p\", \"completion\": \"c\"}\n" +
            $"{{\"prompt\": {LoneSurrogate}, \"completion\": \"c\"}}\n" +
            "{\"prompt\": \"p\", \"completion\": \"c\", \"weight\": 1e400}\n" +
            "{\"prompt\": \"p2\", \"completion\": \"c2\"}\n");
        FailsNaming(() => new InstructionReader(path).Read().ToList(), $"{path}:2", "\"prompt\"", "surrogate");

        var reader = new InstructionReader([path], new InstructionReaderOptions { SkipInvalid = true });
        Assert.Equal(2, reader.Read().Count());
        Assert.Equal(2, reader.Stats.Skipped);
        Assert.Contains(reader.Stats.SkippedExamples, m => m.StartsWith($"{path}:3: field \"weight\" is the number 1e400", StringComparison.Ordinal));
    }

    [Fact]
    public void PretrainingJsonlWithALoneSurrogateIsRefusedOrSkipped()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("corpus.jsonl", $"{{\"text\": \"fine\"}}\n{{\"text\": {LoneSurrogate}}}\n");
        FailsNaming(() => new CorpusReader(path).ReadDocuments().ToList(), $"{path}:2", "\"text\"", "surrogate");
        var reader = new CorpusReader([path], new CorpusOptions { SkipInvalid = true });
        Assert.Single(reader.ReadDocuments());
        Assert.Equal(1, reader.Stats.Skipped);
    }
}
