using SharpLM.IO;
using Xunit;

namespace SharpLM.Tests.Formats;

public class AtomicFileTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void ReplacesTheFileAndLeavesNoTemporary()
    {
        string path = dir.Write("state.bin", "old");
        AtomicFile.Write(path, stream => stream.Write("new content"u8));
        Assert.Equal("new content", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void FailedWriteKeepsTheOldFile()
    {
        string path = dir.Write("state.bin", "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("half"u8);
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void MissingFolderIsAnError()
    {
        string path = dir.File("no/such/folder/file.bin");
        var e = Assert.Throws<SharpLMException>(() => AtomicFile.Write(path, _ => { }));
        Assert.Contains("does not exist", e.Message);
    }
}
