using Xunit;

namespace SharpLM.Tests.Distributed;

/// <summary>Tests that start several processes (MPI ranks) run on their own, after the parallel tests: each rank wants
/// a core.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DistributedCollection
{
    public const string Name = "distributed";
}
