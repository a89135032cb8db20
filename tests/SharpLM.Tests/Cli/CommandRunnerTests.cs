using System.CommandLine;
using SharpLM.Cli;
using Xunit;

namespace SharpLM.Tests.Cli;

[Collection(CliCollection.Name)]
public class CommandRunnerTests
{
    static (int Exit, string Output) Run(Exception thrown)
    {
        var command = new Command("boom");
        Func<ParseResult, int> action = _ => throw thrown;
        command.SetAction(action);
        var (exit, _, stderr) = ConsoleCapture.Run(() => CommandRunner.Invoke(new RootCommand { command }, ["boom"])); // errors go to stderr
        return (exit, stderr);
    }

    /// <summary>An exception no reader should let through still ends in one error line and exit code 1, not a stack trace.</summary>
    [Fact]
    public void AnUnexpectedExceptionIsOneErrorLineAndABugHint()
    {
        var (exit, output) = Run(new InvalidOperationException("something broke"));
        Assert.Equal(1, exit);
        Assert.Contains("error: something broke", output);
        Assert.Contains("bug", output);
        Assert.DoesNotContain(" at SharpLM", output);
    }

    [Fact]
    public void ASharpLMExceptionIsJustTheErrorLine()
    {
        var (exit, output) = Run(new SharpLMException("config.json: bad"));
        Assert.Equal(1, exit);
        Assert.Equal("error: config.json: bad", output.Trim());
    }
}
