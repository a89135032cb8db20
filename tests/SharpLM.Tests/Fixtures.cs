namespace SharpLM.Tests;

/// <summary>Paths of the files under tests/fixtures, copied next to the test assembly.</summary>
static class Fixtures
{
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([AppContext.BaseDirectory, "fixtures", .. parts]);
}

/// <summary>The repository checkout the tests run from (for tests that read its documents or build against it).</summary>
static class Repository
{
    public static string Root { get; } = Find();

    static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(System.IO.Path.Combine(d.FullName, "SharpLM.slnx"))) return d.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}
