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
    public void BadInputIsAnErrorNotACrash()
    {
        var sources = DemoTaskSample.Write(dir.Path, cmudict: ["CAT K AE1 T"]);
        Assert.Equal(1, Run("demo-task", "build", "--cmudict", sources.CmudictFile, "--wordnet", sources.WordNetFolder, "--output", dir.File("out")));
        Assert.Equal(1, Run("demo-task", "build", "--cmudict", dir.File("missing"), "--wordnet", sources.WordNetFolder, "--output", dir.File("out")));
        Assert.Equal(1, Run("demo-task", "build", "--cmudict", sources.CmudictFile, "--wordnet", sources.WordNetFolder,
            "--output", dir.File("out"), "--test-percent", "100"));
    }
}
