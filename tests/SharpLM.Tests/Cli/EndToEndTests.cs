using System.CommandLine;
using System.Text.Json;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Hub;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>The whole command-line workflow on tiny data: tokenizer, pretrain (checkpoint, refuse, resume),
/// generate, finetune (LoRA and full), merge, eval, chat. Each command runs in-process as a user would call it.</summary>
[Collection(CliCollection.Name)]
public sealed class EndToEndTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static int Run(params string[] args) => CommandRunner.Invoke(new RootCommand
    {
        TokenizerCommand.Create(), PretrainCommand.Create(), FinetuneCommand.Create(), GenerateCommand.Create(),
        ChatCommand.Create(), EvalCommand.Create(), MergeCommand.Create(),
    }, args);

    [Fact]
    public void TrainTokenizerPretrainFinetuneMergeEvaluateAndChat()
    {
        var corpus = dir.Write("corpus/train.txt", string.Join("\n\n", TestCorpus.Documents(60)));
        dir.Write("corpus/valid/v.txt", string.Join("\n\n", TestCorpus.Documents(10, seed: 9)));
        var tok = dir.File("tok/tokenizer.json");
        Assert.Equal(0, Run("tokenizer", "train", "--input", corpus, "--vocab-size", "300", "--output", tok));

        var run = dir.File("run");
        string[] pretrain = ["pretrain", "--data", corpus, "--valid", dir.File("corpus/valid"), "--tokenizer", tok, "--preset", "tiny",
            "--seq-len", "32", "--batch-size", "4", "--max-steps", "6", "--warmup", "2", "--checkpoint-every", "3", "--precision", "Fp32",
            "--output", run];
        Assert.Equal(0, Run(pretrain));
        Assert.True(File.Exists(Path.Combine(run, "final", "model.safetensors")));
        Assert.Equal(new[] { "checkpoint-3", "checkpoint-6" },
            Directory.GetDirectories(run, "checkpoint-*").Select(Path.GetFileName).Order().ToArray());
        var metrics = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(6, metrics.Count(m => m.GetProperty("type").GetString() == "train"));
        Assert.Equal(2, metrics.Count(m => m.GetProperty("type").GetString() == "valid")); // before and after

        // A second fresh run into the same folder is refused and leaves the run as it was.
        var before = File.ReadAllBytes(Path.Combine(run, "checkpoint-6", "model.safetensors"));
        Assert.Equal(1, Run(pretrain));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(run, "checkpoint-6", "model.safetensors")));
        // Resuming a finished run changes nothing but is accepted.
        Assert.Equal(0, Run([.. pretrain, "--resume"]));

        var model = Path.Combine(run, "final");
        Assert.Equal(0, Run("generate", "--model", model, "--prompt", "The model", "--max-tokens", "5", "--seed", "1"));
        Assert.Equal(0, Run("generate", "--model", model, "--prompt", "The model", "--max-tokens", "5", "--greedy", "--no-kv-cache"));
        Assert.Equal(1, Run("generate", "--model", model, "--prompt", "x", "--temperature", "-1"));

        var data = dir.Write("instruct/train.jsonl", string.Join("\n", Enumerable.Range(0, 24).Select(i =>
            JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i} {i}" }))));
        var lora = dir.File("lora");
        Assert.Equal(0, Run("finetune", "--model", model, "--data", data, "--valid", data, "--method", "lora", "--lora-rank", "4",
            "--max-steps", "3", "--batch-size", "8", "--max-length", "96", "--exact-match", "3", "--precision", "Fp32", "--output", lora));
        Assert.True(File.Exists(Path.Combine(lora, "final", "adapter_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(lora, "final", "sharplm_template.json")));
        var full = dir.File("full");
        Assert.Equal(0, Run("finetune", "--model", model, "--data", data, "--method", "full", "--max-steps", "2", "--batch-size", "8",
            "--max-length", "96", "--packing", "--precision", "Fp32", "--output", full));
        Assert.True(File.Exists(Path.Combine(full, "final", "model.safetensors")));

        // Continued pretraining on plain domain text goes through the same command.
        Assert.Equal(0, Run("finetune", "--model", model, "--data", corpus, "--method", "freeze", "--train-last-layers", "1",
            "--max-steps", "2", "--batch-size", "4", "--max-length", "32", "--precision", "Fp32", "--output", dir.File("domain")));

        var merged = dir.File("merged");
        Assert.Equal(0, Run("merge", "--model", Path.Combine(lora, "final"), "--output", merged));
        Assert.Equal(1, Run("merge", "--model", Path.Combine(lora, "final"), "--output", merged)); // exists: refused
        using (var a = PretrainedModel.Load(Path.Combine(lora, "final")))
        using (var m = PretrainedModel.Load(merged))
        {
            using var ids = TorchSharp.torch.tensor(new long[] { 1, 5, 9, 12 }).view(1, -1);
            using var la = a.Model.forward(ids);
            using var lm = m.Model.forward(ids);
            Assert.True((la - lm).abs().max().item<float>() < 1e-4f);
        }

        Assert.Equal(0, Run("eval", "--model", model, Path.Combine(lora, "final"), merged, "--instructions", data, "--data", dir.File("corpus/valid"),
            "--seq-len", "32", "--exact-match", "2"));
        Assert.Equal(1, Run("eval", "--model", model));

        var stdin = Console.In;
        try
        {
            Console.SetIn(new StringReader("Say 3\n/reset\nSay 4\n/quit\n"));
            Assert.Equal(0, Run("chat", "--model", merged, "--max-tokens", "4", "--greedy"));
        }
        finally
        {
            Console.SetIn(stdin);
        }
    }
}
