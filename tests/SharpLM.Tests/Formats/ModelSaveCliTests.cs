using System.CommandLine;
using SharpLM.Adapters;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Tokenization;
using SharpLM.Tests.Cli;
using Xunit;

namespace SharpLM.Tests.Formats;

[Collection(CliCollection.Name)]
public class ModelSaveCliTests
{
    static int Run(params string[] args) =>
        CommandRunner.Invoke(new RootCommand { PretrainCommand.Create(), FinetuneCommand.Create() }, args);

    [Fact]
    public void PretrainSavesTheFinalModelAsAskedAndCheckpointsInF32()
    {
        using var dir = new TempDirectory();
        TestCorpus.Tokenizer.Save(dir.File("tokenizer.json"));
        dir.Write("train.txt", string.Join("\n", TestCorpus.Documents(40)));
        int exit = Run("pretrain", "--data", dir.File("train.txt"), "--tokenizer", dir.File("tokenizer.json"), "--preset", "tiny",
            "--seq-len", "32", "--batch-size", "2", "--max-steps", "1", "--precision", "Fp32", "--output", dir.File("run"),
            "--save-dtype", "BF16", "--max-shard-size", "40KB");
        Assert.Equal(0, exit);

        var final = dir.File("run/final");
        Assert.Equal("bfloat16", LlamaConfig.Load(Path.Combine(final, ModelFolder.ConfigFile)).TorchDtype);
        using (var index = SafetensorsIndex.Open(Path.Combine(final, ModelFolder.IndexFile)))
        {
            Assert.All(index.Names, n => Assert.Equal(SafetensorsDType.BF16, index.GetEntry(n).DType));
            Assert.True(index.WeightMap.Values.Distinct().Count() > 1);
        }
        Assert.False(File.Exists(Path.Combine(final, ModelFolder.WeightsFile)));

        var checkpoint = Directory.GetDirectories(dir.File("run"), "checkpoint-*").Single();
        Assert.Equal("float32", LlamaConfig.Load(Path.Combine(checkpoint, ModelFolder.ConfigFile)).TorchDtype);
        using (var index = SafetensorsIndex.Open(Path.Combine(checkpoint, ModelFolder.IndexFile)))
            Assert.All(index.Names, n => Assert.Equal(SafetensorsDType.F32, index.GetEntry(n).DType));
    }

    [Fact]
    public void BadSaveOptionsAndLoraWithSaveOptionsAreRefusedBeforeTraining()
    {
        using var dir = new TempDirectory();
        Assert.Equal(1, Run("pretrain", "--data", "x.txt", "--tokenizer", "t.json", "--output", dir.File("run"), "--max-shard-size", "2XB"));
        Assert.Equal(1, Run("pretrain", "--data", "x.txt", "--tokenizer", "t.json", "--output", dir.File("run"), "--save-dtype", "I8"));
        Assert.Equal(1, Run("finetune", "--model", "m", "--data", "x.jsonl", "--output", dir.File("ft"), "--method", "Lora", "--save-dtype", "BF16"));
        Assert.False(Directory.Exists(dir.File("run")));
        Assert.False(Directory.Exists(dir.File("ft")));
    }
}
