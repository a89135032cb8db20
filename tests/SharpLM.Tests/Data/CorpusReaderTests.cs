using SharpLM.Data;
using Xunit;

namespace SharpLM.Tests.Data;

public class CorpusReaderTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void FolderIsReadRecursivelyInOrdinalOrderAndUnknownExtensionsAreCounted()
    {
        dir.Write("corpus/b.txt", "B");
        dir.Write("corpus/a/z.md", "Z");
        dir.Write("corpus/A.txt", "upper A");
        dir.Write("corpus/notes.csv", "x,y");
        dir.Write("corpus/a/.hidden", "h");

        var reader = new CorpusReader(dir.File("corpus"));
        var documents = reader.ReadDocuments().ToList();

        Assert.Equal(["upper A", "Z", "B"], documents.Select(d => d.Text));
        Assert.Equal(dir.File("corpus/a/z.md"), documents[1].Source);
        Assert.Equal(3, reader.Stats.Files);
        Assert.Equal(2, reader.Stats.IgnoredFiles);
        Assert.Equal(3, reader.Stats.Documents);
        Assert.Equal(9, reader.Stats.Bytes);
    }

    [Fact]
    public void SeveralPathsAreReadInTheGivenOrder()
    {
        string second = dir.Write("second.txt", "2");
        string first = dir.Write("first/one.txt", "1");
        var texts = new CorpusReader(second, dir.File("first")).ReadDocuments().Select(d => d.Text);
        Assert.Equal(["2", "1"], texts);
    }

    [Fact]
    public void MissingPathIsAnError()
    {
        string missing = dir.File("nope.txt");
        var e = Assert.Throws<SharpLMException>(() => new CorpusReader(missing));
        Assert.Contains(missing, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void NamedFileWithUnknownExtensionIsAnError()
    {
        string csv = dir.Write("data.csv", "a,b");
        var e = Assert.Throws<SharpLMException>(() => new CorpusReader(csv));
        Assert.Contains(csv, e.Message);
        Assert.Contains(".csv", e.Message);
        Assert.Contains(".jsonl", e.Message);
    }

    [Fact]
    public void EmptyFileIsAnErrorNamingIt()
    {
        string empty = dir.Write("corpus/empty.txt", "");
        var e = Assert.Throws<SharpLMException>(() => new CorpusReader(dir.File("corpus")).ReadDocuments().ToList());
        Assert.StartsWith($"{empty}: file is empty", e.Message);
    }

    [Fact]
    public void FileWithOnlyABomIsEmpty()
    {
        string bomOnly = dir.Write("bom.txt", [0xEF, 0xBB, 0xBF]);
        var e = Assert.Throws<SharpLMException>(() => new CorpusReader(bomOnly).ReadDocuments().ToList());
        Assert.Contains("file is empty", e.Message);
    }

    [Fact]
    public void CorpusWithoutDocumentsIsAnError()
    {
        dir.Write("corpus/readme.csv", "not a corpus file");
        dir.Write("corpus/blank.txt", "\n  \n\t\n");
        var reader = new CorpusReader([dir.File("corpus")], new CorpusOptions { TextSplit = TextSplit.Line });
        var e = Assert.Throws<SharpLMException>(() => reader.ReadDocuments().ToList());
        Assert.Contains("has no documents", e.Message);
        Assert.Contains("1 file(s) read, 1 ignored for their extension", e.Message);
    }

    [Fact]
    public void DocumentsStreamBeforeLaterFilesAreOpened()
    {
        dir.Write("corpus/1-good.txt", "fine");
        dir.Write("corpus/2-bad.txt", [0x61, 0xFF]);
        var reader = new CorpusReader(dir.File("corpus"));

        Assert.Equal("fine", reader.ReadDocuments().First().Text);
        Assert.Throws<SharpLMException>(() => reader.ReadDocuments().ToList());
    }

    [Fact]
    public void StatsStartOverOnEachPass()
    {
        dir.Write("a.txt", "x");
        var reader = new CorpusReader(dir.File("a.txt"));
        _ = reader.ReadDocuments().ToList();
        _ = reader.ReadDocuments().ToList();
        Assert.Equal(1, reader.Stats.Documents);
    }
}
