namespace SharpLM.Tests;

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("sharplm-test-").FullName;

    public string File(string relativePath) => System.IO.Path.Combine(Path, relativePath);

    /// <summary>Writes bytes to a file below this folder (creating subfolders) and returns its path.</summary>
    public string Write(string relativePath, byte[] bytes)
    {
        string path = File(relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Writes text as UTF-8 without a BOM and returns the path.</summary>
    public string Write(string relativePath, string text) => Write(relativePath, System.Text.Encoding.UTF8.GetBytes(text));

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { } // best effort: a leftover temp folder must not fail a test
    }
}
