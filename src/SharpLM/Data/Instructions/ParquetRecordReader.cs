using System.Text.Json;
using Parquet;
using Parquet.Serialization;

namespace SharpLM.Data;

/// <summary>Reads <c>.parquet</c> records one row group at a time; nested columns such as a <c>messages</c> list of
/// <c>{role, content}</c> structs (the Hugging Face datasets layout) become JSON arrays of objects.</summary>
internal static class ParquetRecordReader
{
    public static IEnumerable<RawRecord> Read(string path)
    {
        using var stream = CorpusReader.OpenRead(path);
        var (groups, columns) = ParquetTextReader.Wait(async () =>
        {
            await using var reader = await ParquetReader.CreateAsync(stream, leaveStreamOpen: true);
            return (reader.RowGroupCount, reader.Schema.Fields.Select(f => f.Name).ToArray());
        }, path);
        long row = 0;
        for (int group = 0; group < groups; group++)
        {
            stream.Position = 0;
            int index = group;
            var rows = ParquetTextReader.Wait(() => ParquetSerializer.DeserializeUntypedAsync(stream, rowGroupIndex: index), path).Data;
            foreach (var values in rows)
            {
                // Parquet.Net leaves null values out; put them back so the message says "null", not "missing".
                foreach (string column in columns) values.TryAdd(column, null!);
                yield return new RawRecord($"{path}:row {row++}", JsonSerializer.SerializeToElement(values), null);
            }
        }
    }
}
