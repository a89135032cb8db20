using System.Text;
using System.Text.Json;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Interop;

/// <summary>llama2.c's stories260K, imported and exported as GGUF, run by llama.cpp: an end-to-end check of both
/// RoPE permutations against run.c's own output, independent of SharpLM's forward pass.</summary>
[Collection(LlamaCppCollection.Name)]
public sealed class Llama2cGgufTests
{
    /// <summary>A 512-token llama2.c vocabulary with a few real pieces (stories260K's own tok512 is not available).</summary>
    static Llama2cTokenizer StoryTokenizer()
    {
        string[] words = [" ", "e", "t", "h", "o", "s", "r", "y", "n", "i", "g", "a", " t", "th", "he", " th", "the", " the",
                          "to", " to", "st", "or", "ory", "tor", "stor", "story", " story", "in", "ng", "ing", " a", "an", " an"];
        var pieces = new List<byte[]> { "<unk>"u8.ToArray(), "\n<s>\n"u8.ToArray(), "\n</s>\n"u8.ToArray() };
        for (int b = 0; b < 256; b++) pieces.Add(Encoding.ASCII.GetBytes($"<0x{b:X2}>"));
        pieces.AddRange(words.Select(Encoding.UTF8.GetBytes));
        while (pieces.Count < 512) pieces.Add(Encoding.ASCII.GetBytes($"x{pieces.Count}"));
        // Longer pieces score higher here, so the merge order matters.
        var scores = pieces.Select((p, id) => id < 259 ? 0f : p.Length * 10f - id * 0.01f).ToArray();
        return new Llama2cTokenizer(pieces, scores);
    }

    [Fact]
    public void LlamaCppRunsTheImportedCheckpointLikeRunC()
    {
        using var dir = new TempDirectory();
        StoryTokenizer().Save(dir.File("tokenizer.bin"));
        Llama2cImport.Run(Fixtures.Path("stories260K", "stories260K.bin"), dir.File("tokenizer.bin"), dir.File("model"), force: false);
        GgufExporter.Export(dir.File("model"), dir.File("stories260K.gguf"), GgufTensorType.F32);

        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("stories260K", "greedy_from_bos.json")));
        var expected = doc.RootElement.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        using var llama = new LlamaCppModel(dir.File("stories260K.gguf"));
        Assert.Equal(expected, llama.Greedy([1], expected.Length));

        // llama.cpp's SentencePiece tokenizer, given the same pieces and scores, splits text as run.c does.
        var tokenizer = Llama2cTokenizer.Load(dir.File("model/tokenizer.bin"));
        foreach (var text in new[] { "the story", "to the story in a tiny thing", "an otter, é!" })
            Assert.Equal(tokenizer.Encode(text), llama.Tokenize(text));
    }
}
