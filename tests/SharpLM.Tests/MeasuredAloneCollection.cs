using Xunit;

namespace SharpLM.Tests;

/// <summary>Tests that measure the whole process (memory after a soak) run alone, after the parallel tests, so that
/// other tests' allocations do not count against them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuredAloneCollection
{
    public const string Name = "measured alone";
}
