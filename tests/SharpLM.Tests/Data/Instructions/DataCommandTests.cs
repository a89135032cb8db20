using System.CommandLine;
using SharpLM.Chat;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Tests.Chat;
using SharpLM.Tests.Cli;
using Xunit;

namespace SharpLM.Tests.Data.Instructions;

[Collection(CliCollection.Name)]
public sealed class DataCommandTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static int Run(params string[] args) => CommandRunner.Invoke(new RootCommand { DataCommand.Create() }, args);

    string Tokenizer()
    {
        string path = dir.File("model/tokenizer.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        TestTokenizers.ChatMl.Save(path);
        return path;
    }

    [Fact]
    public void PreviewShowsExamplesOfEveryFormat()
    {
        string tokenizer = Tokenizer();
        string data = dir.Write("data/chat.jsonl", """
            {"messages": [{"role": "user", "content": "[/] [bad markup"}, {"role": "assistant", "content": "the model"}]}
            """);
        dir.Write("data/alpaca.csv", "instruction,input,output\nAdd,1 2,3\n");
        dir.Write("data/text.jsonl", "{\"text\": \"the data\"}\n");
        Assert.Equal(0, Run("data", "preview", "--data", dir.File("data"), "--tokenizer", tokenizer, "--examples", "5"));
        Assert.Equal(0, Run("data", "preview", "--data", data, "--tokenizer", tokenizer, "--template", "chatml", "--packing",
            "--train-on-prompt", "--max-length", "8"));
        Assert.Equal(0, Run("data", "preview", "-d", data, "-t", tokenizer, "--format", "messages", "--overflow", "Drop"));
    }

    [Fact]
    public void PreviewUsesTheTemplateSavedWithTheModel()
    {
        string tokenizer = Tokenizer();
        string model = Path.GetDirectoryName(tokenizer)!;
        string data = dir.Write("pc.jsonl", "{\"prompt\": \"p\", \"completion\": \"c\"}\n");
        File.WriteAllText(Path.Combine(model, PartsChatTemplate.FileName), "{\"broken\": ");
        // Fails only because the saved template is read when --template is not given.
        Assert.Equal(1, Run("data", "preview", "--data", data, "--tokenizer", model));
        Assert.Equal(0, Run("data", "preview", "--data", data, "--tokenizer", model, "--template", "default"));
        Assert.Equal(0, Run("data", "preview", "--data", data, "--tokenizer", tokenizer));
    }

    [Fact]
    public void PreviewReportsBadDataAsAnError()
    {
        string tokenizer = Tokenizer();
        string data = dir.Write("bad.jsonl", "{\"prompt\": \"p\", \"completion\": \"c\"}\n{oops\n");
        Assert.Equal(1, Run("data", "preview", "--data", data, "--tokenizer", tokenizer));
        Assert.Equal(0, Run("data", "preview", "--data", data, "--tokenizer", tokenizer, "--skip-invalid", "--format", "prompt-completion"));
        Assert.NotEqual(0, Run("data", "preview", "--data", data, "--tokenizer", tokenizer, "--format", "chat"));
        Assert.Equal(1, Run("data", "preview", "--data", data, "--tokenizer", tokenizer, "--template", "nonesuch"));
    }

    [Fact]
    public void FetchScriptIsFoundInAFolderAbove()
    {
        string script = dir.Write("repo/data/fetch.sh", "#!/bin/sh\n");
        string deep = Directory.CreateDirectory(dir.File("repo/src/a/b")).FullName;
        Assert.Equal(script, DataCommand.FindAbove("data/fetch.sh", dir.File("elsewhere-that-does-not-matter"), deep));
        Assert.Null(DataCommand.FindAbove("data/no-such-script.sh", deep));
    }
}
