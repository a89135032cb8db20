using System.CommandLine;
using SharpLM.Cli.Commands;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>`sharplm serve`'s request limits are flags, checked before the model loads.</summary>
[Collection(CliCollection.Name)]
public sealed class ServeCommandTests
{
    [Theory]
    [InlineData("--max-request-bytes")]
    [InlineData("--max-messages")]
    [InlineData("--max-prompt-chars")]
    [InlineData("--max-template-kwargs-chars")]
    public void LimitsBelowOneAreRefusedNamingTheFlag(string flag)
    {
        var parse = new RootCommand { ServeCommand.Create() }.Parse(["serve", "--model", "no-such-model", flag, "0"]);
        Assert.Empty(parse.Errors);
        var e = Assert.Throws<SharpLMException>(() => parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        Assert.Equal($"{flag} 0: expected at least 1", e.Message);
    }

    [Fact]
    public void AcceptAnyModelIsAFlag() =>
        Assert.Empty(new RootCommand { ServeCommand.Create() }.Parse(["serve", "--model", "m", "--accept-any-model"]).Errors);
}
