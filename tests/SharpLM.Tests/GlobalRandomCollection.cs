using Xunit;

namespace SharpLM.Tests;

/// <summary>Tests that seed libtorch's global random generator and expect its draws: they run alone, after the
/// parallel tests, since any test running beside them (dropout, random init) draws from the same generator.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRandomCollection
{
    public const string Name = "global random generator";
}
