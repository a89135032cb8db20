using System.CommandLine;
using System.Text.RegularExpressions;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>`--config run.yaml`: options from a file under their names, the command line winning, a run repeated from its
/// folder's run.yaml, and every mistake in a config named with its file, line and key.</summary>
[Collection(CliCollection.Name)]
public sealed class RunConfigTests : IDisposable
{
    readonly TempDirectory dir = new();
    readonly string corpus, tokenizer;

    public RunConfigTests()
    {
        corpus = dir.Write("corpus/train.txt", string.Join("\n\n", TestCorpus.Documents(40)));
        tokenizer = dir.File("tok/tokenizer.json");
        Directory.CreateDirectory(dir.File("tok"));
        TestCorpus.Tokenizer.Save(tokenizer);
    }

    public void Dispose() => dir.Dispose();

    static Command Root() => new RootCommand { PretrainCommand.Create(), FinetuneCommand.Create(), TokenizerCommand.Create() };

    static (int Code, string Output) Run(params string[] args) => ConsoleCapture.Invoke(Root(), args);

    static RunSettings Saved(string run) => RunSettings.Load(run, Root().Subcommands.Single(c => c.Name == "pretrain"))!;

    static List<double> Losses(string run) => [.. RunMetrics.Of(run, "train").Select(m => m.GetProperty("loss").GetDouble())];

    [Fact]
    public void ARunStartedFromItsSavedRunYamlGetsTheSameSettingsAndTheSameLosses()
    {
        var first = dir.File("first");
        var (code, output) = Run("pretrain", "--data", corpus, "--tokenizer", tokenizer, "--preset", "tiny", "--seq-len", "16",
            "--micro-batch-size", "2", "--gradient-accumulation-steps", "2", "--max-steps", "3", "--warmup", "1", "--lr", "3e-3",
            "--no-decay-norms-embeddings", "--sample-prompt", "the model", "--sample-prompt", "-- data", "--precision", "Fp32",
            "--output", first);
        Assert.True(code == 0, output);
        var yaml = File.ReadAllText(Path.Combine(first, RunSettings.FileName));
        Assert.Contains("command: pretrain", yaml);
        Assert.Contains("seq-len: 16", yaml);
        Assert.Contains("batch-size: 4", yaml); // the batch accumulation made, so that the file repeats without a conflict
        Assert.Contains("no-decay-norms-embeddings: true", yaml);
        Assert.DoesNotContain("output:", yaml);

        var again = dir.File("again");
        (code, output) = Run("pretrain", "--config", Path.Combine(first, RunSettings.FileName), "--output", again);
        Assert.True(code == 0, output);
        var (before, after) = (Saved(first), Saved(again));
        Assert.Equal(before.Settings.Keys, after.Settings.Keys);
        foreach (var name in before.Settings.Keys) Assert.Equal(before.Values(name), after.Values(name));
        Assert.Equal(["the model", "-- data"], after.Values("--sample-prompt"));
        Assert.Equal(before.Fingerprints, after.Fingerprints);
        Assert.Equal(Losses(first), Losses(again));
    }

    [Fact]
    public void AHandWrittenConfigSetsOptionsByNameOrAliasAndTheCommandLineWins()
    {
        var run = dir.File("run");
        var config = dir.Write("run.yaml", $"""
            # a comment
            data: {corpus}
            tokenizer: "{tokenizer}"
            preset: tiny
            seq-len: 16
            batch-size: 2
            learning-rate: 1e-3   # an alias of lr
            iters: 5
            precision: Fp32
            no-decay-norms-embeddings: false
            sample-prompt:
              - the model
            valid:
            output: {run}
            """);
        var (code, output) = Run("pretrain", "--config", config, "--max-steps", "2", "--sample-prompt", "data", "--sample-prompt", "text");
        Assert.True(code == 0, output);
        var saved = Saved(run);
        Assert.Equal(["2"], saved.Values("--max-steps"));
        Assert.Equal(["16"], saved.Values("--seq-len"));
        Assert.Equal(["0.001"], saved.Values("--lr"));
        Assert.Equal(["data", "text"], saved.Values("--sample-prompt")); // a list on the command line replaces the file's
        Assert.Empty(saved.Values("--valid"));
        Assert.Equal(2, Losses(run).Count);

        // JSON works the same, tab-indented too.
        var json = dir.Write("run.json",
            $"{{\n\t\"data\": [\"{corpus}\"],\n\t\"tokenizer\": \"{tokenizer}\",\n\t\"preset\": \"tiny\",\n\t\"seq-len\": 16,\n" +
            "\t\"batch-size\": 2,\n\t\"max-steps\": 1,\n\t\"precision\": \"Fp32\"\n}\n");
        (code, output) = Run("pretrain", "--config", json, "--output", dir.File("from-json"));
        Assert.True(code == 0, output);
        Assert.Equal(["1"], Saved(dir.File("from-json")).Values("--max-steps"));
    }

    [Theory]
    [InlineData("seq_len: 16", "line 2: `sharplm pretrain` has no option seq_len; did you mean seq-len?")]
    [InlineData("seq-len: abc", "line 2: seq-len: expected a whole number, got abc")]
    [InlineData("lr: fast", "line 2: lr: expected a number, got fast")]
    [InlineData("precision: Fp64", "line 2: precision: expected one of Fp32, Bf16, Auto, got Fp64")]
    [InlineData("seq-len: [16, 32]", "line 2: seq-len: expected a whole number, got a list")]
    [InlineData("resume: yes", "line 2: resume: expected true or false, got yes")]
    [InlineData("preset:\n  small: 1", "line 3: preset: expected text, got a mapping")]
    [InlineData("lr: 0.1\nlearning-rate: 0.2", "line 3: learning-rate sets --lr again (line 2 set it already)")]
    [InlineData("command: finetune", "line 2: these are the settings of `sharplm finetune`, not of `sharplm pretrain`")]
    [InlineData("seq-len: [16", "line 3:")]
    [InlineData("- seq-len", "line 2: expected option names with their values (seq-len: 256), found a list")]
    [InlineData("config: other.yaml", "line 2: a config cannot name another one (give --config on the command line)")]
    [InlineData("fingerprints: [1]", "line 2: expected a mapping of kind to SHA-256")]
    [InlineData("hidden_size: 64",
        "line 2: `sharplm pretrain` has no option hidden_size; a model's config.json (its architecture) goes to --model-config")]
    public void MistakesInAConfigAreNamedWithTheFileLineAndKey(string body, string expected)
    {
        var config = dir.Write("bad.yaml", "# settings\n" + body + "\n");
        var (code, output) = Run("pretrain", "--config", config, "--data", corpus, "--tokenizer", tokenizer, "--output", dir.File("bad"));
        Assert.Equal(1, code);
        Assert.Contains($"error: {config} {expected}", output);
        Assert.False(Directory.Exists(dir.File("bad")));
    }

    [Fact]
    public void TheModelArchitectureIsModelConfigAndAConfigJsonGivenAsRunConfigIsNamedAsSuch()
    {
        var architecture = dir.Write("arch/config.json", $$"""
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
             "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": {{TestCorpus.Tokenizer.VocabSize}},
             "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false}
            """);
        var run = dir.File("arch-run");
        var (code, output) = Run("pretrain", "--model-config", architecture, "--data", corpus, "--tokenizer", tokenizer, "--seq-len", "16",
            "--batch-size", "2", "--max-steps", "1", "--precision", "Fp32", "--output", run);
        Assert.True(code == 0, output);
        Assert.Contains("1 layers x 32", output);
        Assert.Equal([Path.GetFullPath(architecture)], Saved(run).Values("--model-config"));

        (code, output) = Run("pretrain", "--config", architecture, "--data", corpus, "--tokenizer", tokenizer, "--output", dir.File("x"));
        Assert.Equal(1, code);
        Assert.Contains("has no option architectures", output);
        Assert.Contains("--model-config", output);
    }

    [Fact]
    public void TheReadmesExampleConfigIsOneThatPretrainReads()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        var example = Regex.Match(readme, "```yaml\n(.*?)```", RegexOptions.Singleline);
        Assert.True(example.Success);
        var pretrain = Root().Subcommands.Single(c => c.Name == "pretrain");
        var settings = RunSettingsFile.Read(dir.Write("example.yaml", example.Groups[1].Value), pretrain);
        Assert.Equal(["tensorboard", "csv"], settings.Values("--report-to"));
        Assert.Equal(["256"], settings.Values("--seq-len"));
    }

    [Fact]
    public void TokenizerTrainTakesAConfigToo()
    {
        var output = dir.File("trained/tokenizer.json");
        var config = dir.Write("tok.yaml", $"input: [{corpus}]\nvocab-size: 300\noutput: {output}\n");
        var (code, text) = Run("tokenizer", "train", "--config", config, "--min-frequency", "1");
        Assert.True(code == 0, text);
        Assert.Contains("300 tokens", text);
        Assert.True(File.Exists(output));
    }
}
