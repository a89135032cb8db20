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
        ParquetFooter.Check(stream, path);
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
                string where = $"{path}:row {row++}";
                // JSON has no infinity or NaN: such a number would make the conversion throw, naming nothing.
                var nonFinite = values.FirstOrDefault(v => v.Value is double d && !double.IsFinite(d) || v.Value is float f && !float.IsFinite(f));
                yield return nonFinite.Key is { } bad
                    ? new RawRecord(where, default, $"{where}: field \"{bad}\" is {nonFinite.Value}, not a finite number")
                    : new RawRecord(where, JsonSerializer.SerializeToElement(values), null);
            }
        }
    }
}
