using Xunit;

namespace SharpLM.Tests.Packages;

/// <summary>Tests that pack, install and publish: each copies libtorch (about 500 MB) once or twice and may run `dotnet pack`,
/// so they run alone, after the parallel tests, where their disk and CPU load cannot slow the tests that time themselves.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackagesCollection
{
    public const string Name = "packages";
}
