using System.CommandLine;
using System.Text.Json;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Tokenization;
using SharpLM.Tests.Cli;
using Xunit;

namespace SharpLM.Tests.Interop;

[Collection(CliCollection.Name)]
public class Llama2cImportTests
{
    static readonly string Checkpoint = Fixtures.Path("stories260K", "stories260K.bin");

    static int[] ReferenceIds()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("stories260K", "greedy_from_bos.json")));
        return doc.RootElement.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    static int Run(params string[] args) => CommandRunner.Invoke(new RootCommand { ImportCommand.Create() }, args);

    /// <summary>The imported stories260K, run by SharpLM, generates exactly what llama2.c's run.c generates.</summary>
    [Fact]
    public void ImportedStories260KReproducesRunCGreedyTokens()
    {
        using var dir = new TempDirectory();
        string folder = dir.File("stories260K");
        Assert.Equal(0, Run("import", "llama2c", "--checkpoint", Checkpoint, "--output", folder));

        using var model = ModelFolder.Load(folder);
        var config = model.Config;
        Assert.Equal((64, 172, 5, 8, 4, 512, 512), (config.HiddenSize, config.IntermediateSize, config.NumHiddenLayers,
            config.NumAttentionHeads, config.NumKeyValueHeads, config.VocabSize, config.MaxPositionEmbeddings));
        Assert.True(config.TieWordEmbeddings);
        Assert.Equal((1e-5, 10_000.0), (config.RmsNormEps, config.RopeTheta));

        var expected = ReferenceIds();
        var generated = new TokenGenerator(model)
            .Generate([1], SamplingOptions.Greedy with { MaxNewTokens = expected.Length }, new HashSet<int>())
            .ToArray();
        Assert.Equal(expected, generated);
    }

    [Fact]
    public void RefusesToOverwriteAFolderWithoutForce()
    {
        using var dir = new TempDirectory();
        string folder = dir.File("out");
        dir.Write("out/notes.txt", "keep me");
        Assert.Equal(1, Run("import", "llama2c", "--checkpoint", Checkpoint, "--output", folder));
        Assert.False(File.Exists(Path.Combine(folder, ModelFolder.ConfigFile)));

        dir.Write("out/tokenizer.json", "{}"); // would shadow the imported model's (absent) tokenizer
        Assert.Equal(0, Run("import", "llama2c", "--checkpoint", Checkpoint, "--output", folder, "--force"));
        Assert.True(File.Exists(Path.Combine(folder, ModelFolder.WeightsFile)));
        Assert.False(File.Exists(Path.Combine(folder, "tokenizer.json")));
        Assert.True(File.Exists(Path.Combine(folder, "notes.txt")));
    }

    [Fact]
    public void ImportsATokenizerAndChecksItsSize()
    {
        using var dir = new TempDirectory();
        string tokenizer = dir.File("tokenizer.bin");
        Llama2cTokenizerTests.Build(512).Save(tokenizer);
        string folder = dir.File("model");
        Llama2cImport.Run(Checkpoint, tokenizer, folder, force: false);
        var loaded = Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(folder));
        Assert.Equal(512, loaded.VocabSize);
        Assert.Equal(File.ReadAllBytes(tokenizer), File.ReadAllBytes(Path.Combine(folder, "tokenizer.bin")));

        string small = dir.File("small.bin");
        Llama2cTokenizerTests.Build(300).Save(small);
        var e = Assert.Throws<SharpLMException>(() => Llama2cImport.Run(Checkpoint, small, dir.File("other"), force: false));
        Assert.Contains("300 tokens", e.Message);
        Assert.Contains("vocab_size 512", e.Message);
    }

    /// <summary>A folder imported with its tokenizer.bin loads like any model folder (generate, chat, serve and eval
    /// load through PretrainedModel) and generates.</summary>
    [Fact]
    public void AnImportedFolderWithItsTokenizerLoadsAndGenerates()
    {
        using var dir = new TempDirectory();
        string tokenizer = dir.File("tokenizer.bin");
        Llama2cTokenizerTests.Build(512).Save(tokenizer);
        string folder = dir.File("model");
        Assert.Equal(0, Run("import", "llama2c", "--checkpoint", Checkpoint, "--tokenizer", tokenizer, "--output", folder));

        using var loaded = PretrainedModel.Load(folder);
        Assert.IsType<Llama2cTokenizer>(loaded.Tokenizer);
        var generated = new TokenGenerator(loaded.Model)
            .Generate(loaded.EncodePrompt("a"), SamplingOptions.Greedy with { MaxNewTokens = 4 }, new HashSet<int>())
            .ToArray();
        Assert.Equal(4, generated.Length);
        Assert.Equal(0, CommandRunner.Invoke(new RootCommand { GenerateCommand.Create() },
            ["generate", "--model", folder, "--prompt", "a", "--max-tokens", "3", "--temperature", "0"]));
    }

    [Fact]
    public void HeaderErrorsNameTheFileAndField()
    {
        using var dir = new TempDirectory();
        var original = File.ReadAllBytes(Checkpoint);

        string truncated = dir.Write("truncated.bin", original[..^100]);
        var e = Assert.Throws<SharpLMException>(() => Llama2cCheckpoint.Load(truncated));
        Assert.Contains(truncated, e.Message);
        Assert.Contains("1,056,540 bytes", e.Message);
        Assert.Contains("truncated", e.Message);

        var badHeads = original.ToArray();
        BitConverter.GetBytes(3).CopyTo(badHeads, 4 * 4); // n_kv_heads = 3 does not divide 8
        e = Assert.Throws<SharpLMException>(() => Llama2cCheckpoint.Load(dir.Write("heads.bin", badHeads)));
        Assert.Contains("heads.bin", e.Message);
        Assert.Contains("n_kv_heads = 3", e.Message);

        var zeroDim = original.ToArray();
        BitConverter.GetBytes(0).CopyTo(zeroDim, 0);
        e = Assert.Throws<SharpLMException>(() => Llama2cCheckpoint.ReadConfig(dir.Write("dim.bin", zeroDim)));
        Assert.Contains("dim = 0", e.Message);

        var versioned = original.ToArray();
        "ak42"u8.ToArray().Reverse().ToArray().CopyTo(versioned, 0); // little-endian uint32 0x616B3432
        BitConverter.GetBytes(2).CopyTo(versioned, 4);
        e = Assert.Throws<SharpLMException>(() => Llama2cCheckpoint.ReadConfig(dir.Write("v2.bin", versioned)));
        Assert.Contains("version 2", e.Message);

        e = Assert.Throws<SharpLMException>(() => Llama2cCheckpoint.ReadConfig(dir.File("missing.bin")));
        Assert.Contains("missing.bin", e.Message);
        Assert.Equal(1, Run("import", "llama2c", "--checkpoint", dir.File("missing.bin"), "--output", dir.File("o")));
    }

    /// <summary>A negative vocab size means an untied classifier follows the RoPE tables.</summary>
    [Fact]
    public void ReadsAnUntiedClassifier()
    {
        using var dir = new TempDirectory();
        var original = File.ReadAllBytes(Checkpoint);
        var untied = new byte[original.Length + 512 * 64 * 4];
        original.CopyTo(untied, 0);
        BitConverter.GetBytes(-512).CopyTo(untied, 5 * 4);
        var classifier = Enumerable.Range(0, 512 * 64).Select(i => (float)(i % 7) * 0.01f).ToArray();
        Buffer.BlockCopy(classifier, 0, untied, original.Length, classifier.Length * 4);

        using var model = Llama2cCheckpoint.Load(dir.Write("untied.bin", untied));
        Assert.False(model.Config.TieWordEmbeddings);
        Assert.Equal(512, model.Config.VocabSize);
        Assert.Equal(classifier[64 * 3 + 5], model.lm_head!.weight[3, 5].item<float>());
    }
}
