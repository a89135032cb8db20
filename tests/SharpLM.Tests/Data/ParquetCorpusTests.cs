using Parquet;
using Parquet.Schema;
using SharpLM.Data;
using Xunit;

namespace SharpLM.Tests.Data;

public class ParquetCorpusTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>Writes a Parquet file with a nullable string column "text", an int column "id"
    /// and one row group per array.</summary>
    string WriteParquet(string name, params string?[][] rowGroups)
    {
        string path = dir.File(name);
        var text = new DataField<string>("text", true);
        var id = new DataField<int>("id");
        var schema = new ParquetSchema(text, id);
        Task.Run(async () =>
        {
            using var stream = File.Create(path);
            await using var writer = await ParquetWriter.CreateAsync(schema, stream);
            foreach (var rows in rowGroups)
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync(text, rows!);
                await group.WriteAsync<int>(id, Enumerable.Range(0, rows.Length).ToArray());
            }
        }).GetAwaiter().GetResult();
        return path;
    }

    static CorpusReader Reader(string path, string column = "text", bool skipInvalid = false) =>
        new([path], new CorpusOptions { ParquetColumn = column, SkipInvalid = skipInvalid });

    [Fact]
    public void ReadsTheTextColumnAcrossRowGroups()
    {
        string path = WriteParquet("data.parquet", ["first\r\ndoc", "zweite Ä"], ["", "third"]);
        var reader = Reader(path);
        var documents = reader.ReadDocuments().ToList();

        Assert.Equal(["first\r\ndoc", "zweite Ä", "third"], documents.Select(d => d.Text));
        Assert.Equal([$"{path}:row 0", $"{path}:row 1", $"{path}:row 3"], documents.Select(d => d.Source));
        Assert.Equal(1, reader.Stats.Empty);
    }

    [Fact]
    public void NullTextIsAnErrorOrSkipped()
    {
        string path = WriteParquet("nulls.parquet", ["a", null, "b"]);

        var e = Assert.Throws<SharpLMException>(() => Reader(path).ReadDocuments().ToList());
        Assert.Equal($"{path}:row 1: column \"text\" is null", e.Message);

        var skipping = Reader(path, skipInvalid: true);
        Assert.Equal(["a", "b"], skipping.ReadDocuments().Select(d => d.Text));
        Assert.Equal(1, skipping.Stats.Skipped);
    }

    [Fact]
    public void MissingColumnListsTheColumns()
    {
        string path = WriteParquet("data.parquet", ["a"]);
        var e = Assert.Throws<SharpLMException>(() => Reader(path, column: "content").ReadDocuments().ToList());
        Assert.Equal($"{path}: no top-level column \"content\" (columns: \"text\", \"id\")", e.Message);
    }

    [Fact]
    public void NonStringColumnIsAnError()
    {
        string path = WriteParquet("data.parquet", ["a"]);
        var e = Assert.Throws<SharpLMException>(() => Reader(path, column: "id").ReadDocuments().ToList());
        Assert.Equal($"{path}: column \"id\" holds Int32 values, expected strings", e.Message);
    }

    [Fact]
    public void FileThatIsNotParquetIsAnError()
    {
        string path = dir.Write("fake.parquet", "this is not parquet, just text pretending to be");
        var e = Assert.Throws<SharpLMException>(() => Reader(path).ReadDocuments().ToList());
        Assert.StartsWith($"{path}: not a readable Parquet file", e.Message);
    }
}
