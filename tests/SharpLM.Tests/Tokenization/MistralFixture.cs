using System.IO.Compression;
using System.Text.Json.Nodes;
using SharpLM.Tokenization;

namespace SharpLM.Tests.Tokenization;

/// <summary>Mistral-7B's tokenizer.json (tests/fixtures/mistral-7b), parsed once.</summary>
static class MistralFixture
{
    public static string GzPath => Fixtures.Path("mistral-7b", "tokenizer.json.gz");

    static readonly Lazy<byte[]> json = new(() =>
    {
        using var gz = new GZipStream(File.OpenRead(GzPath), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gz.CopyTo(bytes);
        return bytes.ToArray();
    });

    static readonly Lazy<SentencePieceBpeTokenizer> tokenizer =
        new(() => (SentencePieceBpeTokenizer)TokenizerLoader.Parse(Json, "mistral-7b/tokenizer.json"));

    /// <summary>The uncompressed file.</summary>
    public static byte[] Json => json.Value;

    /// <summary>The file as loaded by <see cref="TokenizerLoader"/>.</summary>
    public static SentencePieceBpeTokenizer Tokenizer => tokenizer.Value;

    /// <summary>A fresh, editable copy of the file's JSON.</summary>
    public static JsonObject Node() => JsonNode.Parse(Json)!.AsObject();
}
