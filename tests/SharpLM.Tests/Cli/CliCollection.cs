using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>Tests that run CLI commands in-process. Spectre.Console allows one live display (progress bar, status
/// spinner) per process at a time, so these run alone, after the parallel tests, never beside one another.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CliCollection
{
    public const string Name = "command line";
}
