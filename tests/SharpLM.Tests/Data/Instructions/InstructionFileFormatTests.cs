using Parquet.Schema;
using Parquet.Serialization;
using SharpLM.Data;
using Xunit;

namespace SharpLM.Tests.Data.Instructions;

/// <summary>CSV and Parquet instruction data: same records and messages as JSONL.</summary>
public class InstructionFileFormatTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static InstructionReader Reader(string path, bool skipInvalid = false) =>
        new([path], new InstructionReaderOptions { SkipInvalid = skipInvalid });

    static string Roles(InstructionRecord record) =>
        string.Join(" | ", record.Conversation!.Messages.Select(m => $"{m.Role}:{m.Content}"));

    [Fact]
    public void CsvWithQuotedCommasQuotesAndLineBreaks()
    {
        string path = dir.Write("alpaca.csv",
            "instruction, input ,output\r\n" +
            "Add,\"1, 2\",3\r\n" +
            "\r\n" +
            "\"Say \"\"hi\"\"\",,\"Hi\r\nthere\"\n" +
            "Last,,\"\"\"quoted\"\"\"");
        var reader = Reader(path);
        var records = reader.Read().ToList();
        Assert.Equal(["user:Add\n\n1, 2 | assistant:3", "user:Say \"hi\" | assistant:Hi\r\nthere", "user:Last | assistant:\"quoted\""],
            records.Select(Roles));
        Assert.Equal([$"{path}:2", $"{path}:4", $"{path}:6"], records.Select(r => r.Source));
        Assert.Equal(InstructionFormat.Alpaca, reader.Stats.Formats[path]);
    }

    [Fact]
    public void CsvRowProblemsNameTheLineAndCanBeSkipped()
    {
        string path = dir.Write("pc.csv",
            "prompt,completion\n" +
            "a,b,c\n" +
            "\"x\"y,z\n" +
            "good,answer\n" +
            "empty,\n" +
            "\"never closed,z\n");
        Assert.Equal($"{path}:2: malformed CSV: the row has 3 field(s), the header has 2",
            Assert.Throws<SharpLMException>(() => Reader(path).Read().ToList()).Message);

        var reader = Reader(path, skipInvalid: true);
        Assert.Equal(["user:good | assistant:answer"], reader.Read().Select(Roles));
        Assert.Equal(
        [
            $"{path}:2: malformed CSV: the row has 3 field(s), the header has 2",
            $"{path}:3: malformed CSV: unexpected character 'y' after the closing quote of field 1",
            $"{path}:5: field \"completion\" is empty",
            $"{path}:6: malformed CSV: a quoted value is never closed",
        ], reader.Stats.SkippedExamples);
    }

    [Fact]
    public void CsvHeaderProblemsFailTheFile()
    {
        string dup = dir.Write("dup.csv", "text,text\na,b\n");
        Assert.Equal($"{dup}:1: the header names the field \"text\" twice",
            Assert.Throws<SharpLMException>(() => Reader(dup, true).Read().ToList()).Message);
        string blank = dir.Write("blank.csv", "\n\n");
        Assert.Equal($"{blank}: no header row (a CSV file must name its fields in the first line)",
            Assert.Throws<SharpLMException>(() => Reader(blank, true).Read().ToList()).Message);
    }

    [Fact]
    public void CsvInvalidUtf8NamesLineAndOffset()
    {
        byte[] bytes = [.. "text\nok\nbad "u8, 0xC3, 0x28, .. "\n"u8];
        string path = dir.Write("bad.csv", bytes);
        Assert.StartsWith($"{path}:3: invalid UTF-8 at byte offset {Array.IndexOf(bytes, (byte)0xC3)}",
            Assert.Throws<SharpLMException>(() => Reader(path).Read().ToList()).Message);
    }

    string WriteParquet(string name, ParquetSchema schema, params IDictionary<string, object?>[] rows)
    {
        string path = dir.File(name);
        Task.Run(async () =>
        {
            using var stream = File.Create(path);
            await ParquetSerializer.SerializeUntypedAsync(rows, schema, stream);
        }).GetAwaiter().GetResult();
        return path;
    }

    static Dictionary<string, object?> Message(string role, string content) => new() { ["role"] = role, ["content"] = content };

    [Fact]
    public void ParquetMessagesAsListsOfStructs()
    {
        var schema = new ParquetSchema(
            new ListField("messages", new StructField("element", new DataField<string>("role"), new DataField<string>("content"))),
            new DataField<int>("id"));
        string path = WriteParquet("chat.parquet", schema,
            new Dictionary<string, object?>
            {
                ["id"] = 1, ["messages"] = new List<Dictionary<string, object?>> { Message("user", "q"), Message("assistant", "a") },
            },
            new Dictionary<string, object?>
            {
                ["id"] = 2, ["messages"] = new List<Dictionary<string, object?>> { Message("user", "q"), Message("user", "again") },
            });
        Assert.Equal($"{path}:row 1: messages[1]: expected role \"assistant\", got \"user\" (after an optional first system message, " +
                     "turns must alternate user, assistant, user, ...)",
            Assert.Throws<SharpLMException>(() => Reader(path).Read().ToList()).Message);
        var reader = Reader(path, skipInvalid: true);
        var record = Assert.Single(reader.Read());
        Assert.Equal("user:q | assistant:a", Roles(record));
        Assert.Equal($"{path}:row 0", record.Source);
    }

    [Fact]
    public void ParquetFlatColumnsAndNullValues()
    {
        var schema = new ParquetSchema(new DataField<string>("prompt", true), new DataField<string>("completion", true));
        string path = WriteParquet("pc.parquet", schema,
            new Dictionary<string, object?> { ["prompt"] = "p", ["completion"] = "c" },
            new Dictionary<string, object?> { ["prompt"] = "p2", ["completion"] = null });
        var reader = Reader(path, skipInvalid: true);
        Assert.Equal(["user:p | assistant:c"], reader.Read().Select(Roles));
        Assert.Equal([$"{path}:row 1: field \"completion\" is null, expected a string"], reader.Stats.SkippedExamples);
    }

    [Fact]
    public async Task ParquetRowGroupsAreReadInOrder()
    {
        string path = dir.File("groups.parquet");
        var text = new DataField<string>("text");
        await using (var stream = File.Create(path))
        await using (var writer = await Parquet.ParquetWriter.CreateAsync(new ParquetSchema(text), stream))
        {
            foreach (var rows in new[] { new[] { "a", "b" }, ["c"] })
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync(text, rows);
            }
        }
        var records = Reader(path).Read().ToList();
        Assert.Equal(["a", "b", "c"], records.Select(r => r.Text));
        Assert.Equal($"{path}:row 2", records[2].Source);
    }

    [Fact]
    public void NotParquetFailsTheFile()
    {
        string path = dir.Write("fake.parquet", "not parquet at all");
        Assert.StartsWith($"{path}: not a readable Parquet file", Assert.Throws<SharpLMException>(() => Reader(path, true).Read().ToList()).Message);
    }
}
