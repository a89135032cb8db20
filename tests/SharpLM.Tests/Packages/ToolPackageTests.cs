using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Packages;

/// <summary>The tool package as README's "Install" says: `dotnet tool install` from the local feed into a tool path of its own,
/// then `sharplm` runs from there: --help, --version, and a tokenizer and a tiny pretraining run, which load the package's own copy of
/// libtorch (on Debian 12 only because the package's libLibTorchSharp.so is patched).</summary>
[Collection(PackagesCollection.Name)]
public sealed class ToolPackageTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void TheToolInstallsFromTheLocalFeedAndPretrains()
    {
        var feed = LocalPackages.Ensure();
        // Only the local feed: a tool package brings all it needs, so nothing is looked up on the network.
        var config = dir.Write("NuGet.config", """
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><clear /></packageSources></configuration>
            """);
        var tools = dir.File("tools");
        var install = ChildProcess.Run("dotnet", ["tool", "install", "--tool-path", tools, "--configfile", config, "--add-source", feed,
            "SharpLM.Cli", "--version", LocalPackages.Version], timeoutSeconds: 300);
        Assert.True(install.Exit == 0, install.Output);
        var sharplm = Path.Combine(tools, "sharplm");

        var help = Sharplm(sharplm, "--help");
        Assert.Contains("pretrain", help);
        Assert.StartsWith(LocalPackages.Version + "+", Sharplm(sharplm, "--version").Trim());

        var corpus = dir.Write("corpus.txt", string.Join("\n\n", TestCorpus.Documents(40)));
        var tokenizer = dir.File("tok/tokenizer.json");
        Sharplm(sharplm, "tokenizer", "train", "--input", corpus, "--vocab-size", "300", "--output", tokenizer);
        var run = dir.File("run");
        Sharplm(sharplm, "pretrain", "--data", corpus, "--tokenizer", tokenizer, "--preset", "tiny", "--seq-len", "32", "--batch-size", "4",
            "--max-steps", "3", "--warmup", "1", "--precision", "Fp32", "--output", run);
        Assert.True(File.Exists(Path.Combine(run, "final", "model.safetensors")));
        Assert.Equal(3, RunMetrics.Of(run, "train").Count);
    }

    /// <summary>Runs the installed command from the temporary folder and returns what it printed; it must succeed.</summary>
    string Sharplm(string command, params string[] args)
    {
        var (exit, output) = ChildProcess.Run(command, args, timeoutSeconds: 180, workingDirectory: dir.Path);
        Assert.True(exit == 0, $"sharplm {string.Join(' ', args)} exited with {exit}:\n{output}");
        return output;
    }
}
