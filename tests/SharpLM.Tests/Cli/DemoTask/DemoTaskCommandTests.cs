using System.CommandLine;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using Xunit;

namespace SharpLM.Tests.Cli.DemoTask;

[Collection(CliCollection.Name)]
public class DemoTaskCommandTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static int Run(params string[] args) => CommandRunner.Invoke(new RootCommand { DemoTaskCommand.Create() }, args);

    [Fact]
    public void BuildsRefusesToOverwriteAndPassesOptions()
    {
        var sources = DemoTaskSample.Write(dir.Path);
        string output = dir.File("instruct");
        string[] build = ["demo-task", "build", "--cmudict", sources.CmudictFile, "--wordnet", sources.WordNetFolder, "--output", output];

        Assert.Equal(0, Run([.. build, "--valid-percent", "0", "--test-percent", "0"]));
        Assert.Equal(12, File.ReadAllLines(Path.Combine(output, "train.jsonl")).Length);
        Assert.True(File.Exists(Path.Combine(output, "valid.jsonl")));
        Assert.True(File.Exists(Path.Combine(output, "test.jsonl")));

        Assert.Equal(1, Run(build));
        Assert.Equal(0, Run([.. build, "--force", "--valid-percent", "0", "--test-percent", "0", "--train-examples", "4", "--no-part-of-speech"]));
        var lines = File.ReadAllLines(Path.Combine(output, "train.jsonl"));
        Assert.Equal(4, lines.Length);
        Assert.DoesNotContain(lines, l => l.Contains("\"content\":\"adverb: "));
    }

    [Fact]
    public void PairsRejectTheModelsWrongAnswersAndReadAsPreferenceData()
    {
        var sources = DemoTaskSample.Write(dir.Path);
        string instruct = dir.File("instruct");
        Assert.Equal(0, Run("demo-task", "build", "--cmudict", sources.CmudictFile, "--wordnet", sources.WordNetFolder, "--output", instruct,
            "--valid-percent", "0", "--test-percent", "0"));
        string model = TestModels.TinyFolder(dir.File("model"));
        string pairs = dir.File("pairs.jsonl"), train = Path.Combine(instruct, "train.jsonl");
        string[] command = ["demo-task", "pairs", "--model", model, "--data", train, "--output", pairs, "--examples", "6"];
        Assert.Equal(0, Run(command));
        Assert.Equal(1, Run(command)); // never overwrites without --force

        var expected = new SharpLM.Data.InstructionReader(train).Read().Take(6).Select(r => r.Conversation!.Messages).ToList();
        var read = new SharpLM.Data.PreferenceReader([pairs]).Read().ToList();
        Assert.Equal(6, read.Count);
        foreach (var (pair, conversation) in read.Zip(expected))
        {
            Assert.Equal(conversation[0].Content, pair.Prompt[0].Content);
            Assert.Equal(conversation[1].Content, pair.Chosen[0].Content);
            Assert.NotEqual(SharpLM.Evaluation.ExactMatch.Normalize(pair.Chosen[0].Content),
                SharpLM.Evaluation.ExactMatch.Normalize(pair.Rejected[0].Content));
        }
        // A random model answers wrongly (its answer is rejected) or says nothing (another question's answer is).
        Assert.All(File.ReadAllLines(pairs), line => Assert.Matches("\"rejected_source\":\"(model|other answer)\"", line));
    }

    [Fact]
    public void BadInputIsAnErrorNotACrash()
    {
        var sources = DemoTaskSample.Write(dir.Path, cmudict: ["CAT K AE1 T"]);
        Assert.Equal(1, Run("demo-task", "build", "--cmudict", sources.CmudictFile, "--wordnet", sources.WordNetFolder, "--output", dir.File("out")));
        Assert.Equal(1, Run("demo-task", "build", "--cmudict", dir.File("missing"), "--wordnet", sources.WordNetFolder, "--output", dir.File("out")));
        Assert.Equal(1, Run("demo-task", "build", "--cmudict", sources.CmudictFile, "--wordnet", sources.WordNetFolder,
            "--output", dir.File("out"), "--test-percent", "100"));
    }
}
