using Parquet;
using Parquet.Schema;

namespace SharpLM.Data;

/// <summary>Reads the text column of a <c>.parquet</c> file, one row group at a time.</summary>
/// <remarks>Parquet.Net's API is async only; the iterator waits on it from the thread pool so a caller
/// with a synchronization context cannot deadlock. Strings are decoded by Parquet.Net, which does not
/// report invalid UTF-8 the way the text readers do.</remarks>
internal static class ParquetTextReader
{
    public static IEnumerable<TextDocument> Read(string path, CorpusOptions options, CorpusStats stats)
    {
        string column = options.ParquetColumn;
        using var stream = CorpusReader.OpenRead(path);
        ParquetFooter.Check(stream, path);
        var reader = Wait(() => ParquetReader.CreateAsync(stream, leaveStreamOpen: true), path);
        try
        {
            var field = FindTextField(reader.Schema, column, path);
            long row = 0;
            for (int group = 0; group < reader.RowGroupCount; group++)
            {
                string?[] values;
                using (var rowGroup = reader.OpenRowGroupReader(group))
                {
                    values = new string?[rowGroup.RowCount];
                    Wait(async () => { await rowGroup.ReadAsync(field, values!); return true; }, path);
                }
                foreach (string? text in values)
                {
                    string where = $"{path}:row {row++}";
                    if (text is null)
                    {
                        string problem = $"{where}: column \"{column}\" is null";
                        if (!options.SkipInvalid) throw new SharpLMException(problem);
                        stats.AddSkipped(problem);
                    }
                    else if (text.Length == 0)
                        stats.Empty++;
                    else
                        yield return new TextDocument(text, where);
                }
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    static DataField FindTextField(ParquetSchema schema, string column, string path)
    {
        // Only top-level columns: a text nested in a struct or list has no single value per row.
        var field = schema.Fields.OfType<DataField>().FirstOrDefault(f => f.Name == column);
        if (field is null)
        {
            var names = schema.Fields.Select(f => $"\"{f.Name}\"").Take(20);
            throw new SharpLMException($"{path}: no top-level column \"{column}\" (columns: {string.Join(", ", names)})");
        }
        bool isString = field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>);
        if (!isString || field.IsArray)
            throw new SharpLMException(
                $"{path}: column \"{column}\" holds {(field.IsArray ? "lists" : field.ClrType.Name)} values, expected strings");
        return field;
    }

    internal static T Wait<T>(Func<Task<T>> read, string path)
    {
        try
        {
            return Task.Run(read).GetAwaiter().GetResult();
        }
        // A damaged file can surface as almost any exception type from the decoder.
        catch (Exception e) when (e is not (SharpLMException or OutOfMemoryException))
        {
            throw new SharpLMException($"{path}: not a readable Parquet file: {e.Message}", e);
        }
    }
}
