using System.CommandLine;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Tokenization;
using SharpLM.Tests.Cli;
using Xunit;

namespace SharpLM.Tests.Tokenization;

[Collection(CliCollection.Name)]
public sealed class TokenizerCommandTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("sharplm-tokcli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static int Run(params string[] args) => CommandRunner.Invoke(new RootCommand { TokenizerCommand.Create() }, args);

    string WriteCorpus()
    {
        string corpus = Path.Combine(dir, "corpus");
        Directory.CreateDirectory(Path.Combine(corpus, "nested"));
        File.WriteAllText(Path.Combine(corpus, "a.txt"), string.Join("\n", TestCorpus.Documents(100)));
        File.WriteAllLines(Path.Combine(corpus, "nested", "b.jsonl"),
            TestCorpus.Documents(100, seed: 8).Select(d => System.Text.Json.JsonSerializer.Serialize(new { text = d, id = 1 })).Append(""));
        File.WriteAllText(Path.Combine(corpus, "ignored.csv"), "not, a, corpus");
        return corpus;
    }

    [Fact]
    public void TrainsWritesAndRefusesToOverwrite()
    {
        string corpus = WriteCorpus();
        string output = Path.Combine(dir, "out");
        Assert.Equal(0, Run("tokenizer", "train", "--input", corpus, "--vocab-size", "300", "--special-tokens", "<pad>,<s>,</s>",
            "--output", output));

        var tokenizer = ByteLevelBpeTokenizer.Load(Path.Combine(output, "tokenizer.json"));
        Assert.Equal(300, tokenizer.VocabSize);
        Assert.Equal(new SpecialTokenIds(0, 1, 2, null), tokenizer.Special);

        Assert.Equal(1, Run("tokenizer", "train", "--input", corpus, "--output", output));
        Assert.Equal(0, Run("tokenizer", "train", "--input", corpus, "--vocab-size", "280", "--output", output, "--force"));
        Assert.Equal(280, ByteLevelBpeTokenizer.Load(Path.Combine(output, "tokenizer.json")).VocabSize);

        Assert.Equal(0, Run("tokenizer", "encode", "--tokenizer", output, "the model"));
    }

    [Fact]
    public void EncodesWithASentencePieceTokenizer()
    {
        File.WriteAllBytes(Path.Combine(dir, "tokenizer.json"), MistralFixture.Json);
        Assert.Equal(0, Run("tokenizer", "encode", "--tokenizer", dir, "Hello world"));
    }

    [Fact]
    public void ReportsBadInput()
    {
        string bad = Path.Combine(dir, "bad.jsonl");
        File.WriteAllLines(bad, ["{\"text\": \"ok\"}", "{\"content\": \"no text field\"}"]);
        Assert.Equal(1, Run("tokenizer", "train", "--input", bad, "--output", Path.Combine(dir, "t.json")));
        Assert.False(File.Exists(Path.Combine(dir, "t.json")));
        Assert.Equal(1, Run("tokenizer", "train", "--input", Path.Combine(dir, "missing"), "--output", Path.Combine(dir, "t.json")));
        Assert.Equal(1, Run("tokenizer", "train", "--input", bad, "--vocab-size", "10", "--output", Path.Combine(dir, "t.json")));
    }
}
