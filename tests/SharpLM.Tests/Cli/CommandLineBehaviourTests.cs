using System.CommandLine;
using System.Text.Json;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>What a user sees of the command line itself: results on stdout and everything else on stderr, one-line
/// usage errors, the spellings other tools use, and help that shows the defaults that are used.</summary>
[Collection(CliCollection.Name)]
public sealed class CommandLineBehaviourTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static Command Root() => new("sharplm")
    {
        new System.CommandLine.Help.HelpOption(),
        PretrainCommand.Create(), FinetuneCommand.Create(), GenerateCommand.Create(), EvalCommand.Create(), ChatCommand.Create(),
    };

    /// <summary>Runs a command in-process and returns its exit code, stdout and stderr.</summary>
    static (int Exit, string Out, string Err) Run(params string[] args) => ConsoleCapture.Run(() => CommandRunner.Invoke(Root(), args));

    string TinyModel() => TestModels.TinyFolder(dir.File("model"), seed: 5);

    [Fact]
    public void GeneratedTextAloneGoesToStdoutAndErrorsToStderr()
    {
        var model = TinyModel();
        var (exit, stdout, stderr) = Run("generate", "--model", model, "--prompt", "The model", "--max-tokens", "3", "--greedy");
        Assert.Equal(0, exit);
        Assert.StartsWith("The model", stdout);
        Assert.Single(stdout.TrimEnd('\n').Split('\n')); // the continuation only
        Assert.Contains("tokens in", stderr); // speed and stop reason are diagnostics

        (exit, stdout, stderr) = Run("generate", "--model", dir.File("missing"), "--prompt", "x");
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Contains("error:", stderr);
        Assert.Contains("model folder not found", stderr);
    }

    [Fact]
    public void EvaluationTablesAreResultsOnStdout()
    {
        var model = TinyModel();
        dir.Write("valid.txt", string.Join("\n\n", TestCorpus.Documents(5)));
        var (exit, stdout, stderr) = Run("eval", "--model", model, "--data", dir.File("valid.txt"), "--seq-len", "32");
        Assert.True(exit == 0, stderr);
        Assert.Contains("perplexity", stdout);
        Assert.Contains("fp32 weights", stdout); // the precision every figure used
        Assert.DoesNotContain("perplexity", stderr);
    }

    [Fact]
    public void AnUnknownOptionIsOneLineNamingTheClosestRealOne()
    {
        var (exit, stdout, stderr) = Run("finetune", "--model", "m", "--data", "d", "--output", "o", "--lernrate", "0.001");
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.TrimEnd('\n').Split('\n'));
        Assert.Contains("unknown option --lernrate", line);
        Assert.Contains("did you mean --learning-rate?", line);
        Assert.DoesNotContain("0.001", line); // no suggestion for the value

        (exit, _, stderr) = Run("fintune", "--model", "m");
        Assert.Equal(1, exit);
        Assert.Contains("did you mean `finetune`?", stderr);
    }

    [Fact]
    public void UsageLinesNameTheProgramSharplm()
    {
        var help = new StringWriter();
        var parse = Root().Parse(["finetune", "--help"]);
        parse.InvocationConfiguration.Output = help;
        parse.Invoke();
        Assert.Contains("sharplm finetune [options]", help.ToString());
        Assert.DoesNotContain("SharpLM.Cli", help.ToString());
        // The LoRA default learning rate is the one help shows; no single wrong number.
        Assert.Contains("default: 1e-3 with --method lora", help.ToString());
        Assert.DoesNotContain("[default: 0.0001]", help.ToString());
    }

    [Fact]
    public void HuggingFaceAndMlxSpellingsSetTheSameSettings()
    {
        var model = TinyModel();
        var data = dir.Write("train.jsonl", string.Join("\n",
            Enumerable.Range(0, 12).Select(i => JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i}" }))));
        var (exit, _, stderr) = Run("finetune", "--model", model, "--data", data, "--output", dir.File("run"), "--method", "full",
            "--learning-rate", "0.002", "--iters", "1", "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", "3",
            "--max-length", "200", "--exact-match", "0", "--precision", "Fp32");
        Assert.True(exit == 0, stderr);
        Assert.Contains("AdamW lr 0.002", stderr);
        Assert.Contains("6 examples per optimiser step = 3 passes of 2", stderr);

        (exit, _, stderr) = Run("finetune", "--model", model, "--data", data, "--output", dir.File("run2"), "--batch-size", "4",
            "--micro-batch-size", "2", "--gradient-accumulation-steps", "3");
        Assert.Equal(1, exit);
        Assert.Contains("give two of the three", stderr);
    }

    [Fact]
    public void LoraTrainsAtTheLearningRateHelpShowsAndPackedBatchesCountRows()
    {
        var model = TinyModel();
        var data = dir.Write("train.jsonl", string.Join("\n",
            Enumerable.Range(0, 12).Select(i => JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i}" }))));
        var (exit, _, stderr) = Run("finetune", "--model", model, "--data", data, "--output", dir.File("run"), "--max-steps", "1",
            "--batch-size", "2", "--packing", "--max-length", "200", "--exact-match", "0", "--precision", "Fp32");
        Assert.True(exit == 0, stderr);
        Assert.Contains("AdamW lr 0.001", stderr);
        Assert.Contains("2 packed rows per optimiser step", stderr);
        Assert.Contains("added ChatML's <|im_start|> and <|im_end|> to the tokenizer", stderr); // so the template is chatml
    }

    [Fact]
    public void AFineTuneGetsAModelCardTheHubReads()
    {
        var model = TinyModel();
        var data = dir.Write("train.jsonl", string.Join("\n", Enumerable.Range(0, 8)
            .Select(i => JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i}" }))));
        foreach (var method in new[] { "lora", "full" })
        {
            var (exit, _, stderr) = Run("finetune", "--model", model, "--data", data, "--valid", data, "--output", dir.File(method),
                "--method", method, "--max-steps", "1", "--batch-size", "2", "--max-length", "200", "--exact-match", "0", "--precision", "Fp32");
            Assert.True(exit == 0, stderr);
            var card = File.ReadAllText(Path.Combine(dir.File(method), "final", "README.md"));
            Assert.StartsWith("---\n", card);
            Assert.Contains($"base_model: {JsonSerializer.Serialize(model)}\n", card);
            Assert.Contains(method == "lora" ? "library_name: peft\n" : "library_name: sharplm\n", card);
            Assert.Contains(method == "lora" ? "- \"lora\"\n" : "- \"full-fine-tune\"\n", card);
            Assert.Contains("datasets:\n- \"train.jsonl\"\n", card);
            Assert.Contains("| validation loss (answers, fp32 matmuls) | ", card);
            Assert.Contains($"./sharplm chat --model {Path.Combine(dir.File(method), "final")}", card);
        }
    }

    [Fact]
    public void ABf16FrozenBaseIsForLoraOnly()
    {
        var model = TinyModel();
        var data = dir.Write("train.jsonl", string.Join("\n", Enumerable.Range(0, 8)
            .Select(i => JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i}" }))));
        string[] common = ["finetune", "--model", model, "--data", data, "--max-steps", "1", "--batch-size", "2", "--max-length", "200",
            "--exact-match", "0", "--precision", "Fp32", "--base-dtype", "BFloat16"];
        var (exit, _, stderr) = Run([.. common, "--output", dir.File("run")]);
        Assert.True(exit == 0, stderr);
        Assert.Contains("frozen base in bf16", stderr);
        (exit, _, stderr) = Run([.. common, "--output", dir.File("full"), "--method", "full"]);
        Assert.Equal(1, exit);
        Assert.Contains("--base-dtype applies to --method lora and dora only", stderr);
    }

    [Fact]
    public void NeftuneIsASettingOfFineTuning()
    {
        var model = TinyModel();
        var data = dir.Write("train.jsonl", string.Join("\n", Enumerable.Range(0, 8)
            .Select(i => JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i}" }))));
        var (exit, _, stderr) = Run("finetune", "--model", model, "--data", data, "--output", dir.File("run"), "--max-steps", "1",
            "--batch-size", "2", "--max-length", "200", "--exact-match", "0", "--precision", "Fp32", "--neftune-noise-alpha", "5");
        Assert.True(exit == 0, stderr);
        Assert.Contains("alpha 5: noise on the input embeddings while training", stderr);
        (exit, _, stderr) = Run("finetune", "--model", model, "--data", data, "--output", dir.File("run2"), "--max-length", "200",
            "--neftune-alpha", "-1");
        Assert.Equal(1, exit);
        Assert.True(stderr.Contains("NeftuneAlpha must be a finite number >= 0, got -1"), stderr);
    }

    [Fact]
    public void SkippedRecordsAreAllListedInTheRunFolderAndTheFirstFewOnScreen()
    {
        var model = TinyModel();
        var good = Enumerable.Range(0, 8).Select(i => JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i}" }));
        var bad = Enumerable.Range(0, 8).Select(i => $"{{\"instruction\": {i}}}"); // a number, and no output
        var data = dir.Write("train.jsonl", string.Join("\n", good.Zip(bad, (g, b) => g + "\n" + b)));
        var run = dir.File("run");
        var (exit, _, stderr) = Run("finetune", "--model", model, "--data", data, "--output", run, "--skip-invalid", "--max-steps", "1",
            "--batch-size", "2", "--max-length", "200", "--exact-match", "0", "--precision", "Fp32");
        Assert.True(exit == 0, stderr);
        var log = File.ReadAllLines(Path.Combine(run, "skipped-training-data.log"));
        Assert.Equal(8, log.Length);
        Assert.All(log, line => Assert.Contains("train.jsonl", line));
        Assert.Contains("train.jsonl:16:", log[^1]);
        Assert.Contains("skipped 8 invalid record(s)", stderr);
        Assert.Contains("all 8 are listed in", stderr);
        Assert.DoesNotContain("train.jsonl:16:", stderr); // the first five only
    }

    [Fact]
    public void FineTuningReportsTextPerplexityBeforeAndAfterToShowForgetting()
    {
        var model = TinyModel();
        var data = dir.Write("train.jsonl", string.Join("\n",
            Enumerable.Range(0, 8).Select(i => JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i}" }))));
        var text = dir.Write("text.txt", string.Join("\n\n", TestCorpus.Documents(40, seed: 3)));
        var (exit, _, stderr) = Run("finetune", "--model", model, "--data", data, "--valid-text", text, "--output", dir.File("run"),
            "--method", "full", "--lr", "0.01", "--max-steps", "2", "--batch-size", "4", "--max-length", "200", "--exact-match", "0",
            "--precision", "Fp32");
        Assert.True(exit == 0, stderr);
        var before = Perplexity(stderr, "text perplexity before");
        var after = Perplexity(stderr, "text perplexity after");
        Assert.NotEqual(before, after);
        Assert.Contains("text perplexity, forgetting", stderr);

        static double Perplexity(string log, string label)
        {
            var line = log.Split('\n').Single(l => l.StartsWith(label));
            return double.Parse(line[(line.IndexOf(": ") + 2)..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    [Fact]
    public void CtrlCStopsAnAnswerAndOnlyASecondPressAtThePromptQuits()
    {
        var interrupts = new ChatInterrupts();
        interrupts.AnswerStarted();
        Assert.Equal(ChatInterrupts.Outcome.StopAnswer, interrupts.OnCtrlC());
        Assert.True(interrupts.StopRequested);
        interrupts.AnswerEnded();
        Assert.False(interrupts.StopRequested);
        Assert.Equal(ChatInterrupts.Outcome.Warn, interrupts.OnCtrlC());
        interrupts.LineTyped(); // typing in between starts over
        Assert.Equal(ChatInterrupts.Outcome.Warn, interrupts.OnCtrlC());
        Assert.Equal(ChatInterrupts.Outcome.Quit, interrupts.OnCtrlC());
    }
}
