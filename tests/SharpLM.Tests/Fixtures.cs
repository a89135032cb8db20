namespace SharpLM.Tests;

/// <summary>Paths of the files under tests/fixtures, copied next to the test assembly.</summary>
static class Fixtures
{
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([AppContext.BaseDirectory, "fixtures", .. parts]);
}
