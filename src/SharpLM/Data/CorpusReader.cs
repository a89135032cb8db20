using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>
/// Streams documents from files and folders: <c>.txt</c>/<c>.md</c> (see <see cref="TextSplit"/>),
/// <c>.jsonl</c> (a string field per line) and <c>.parquet</c> (a string column).
/// Folders are searched recursively and their files read in ordinal path order, so every run sees the
/// same documents in the same order. Files with other extensions inside a folder are ignored and
/// counted; a file named directly must have a known extension.
/// </summary>
/// <remarks>Documents are read lazily: one file (or Parquet row group) at a time.
/// Every problem is a <see cref="SharpLMException"/> that names the file and, where it applies, the
/// line, byte offset or field.</remarks>
public sealed class CorpusReader
{
    static readonly string[] Extensions = [".txt", ".md", ".jsonl", ".parquet"];

    readonly DataFiles files;
    readonly CorpusOptions options;

    /// <summary>Checks that every path exists and that files named directly have a known extension.</summary>
    public CorpusReader(IEnumerable<string> paths, CorpusOptions? options = null)
    {
        files = new DataFiles(paths, Extensions, "corpus", "Corpus path");
        this.options = options ?? new CorpusOptions();
        if (string.IsNullOrEmpty(this.options.JsonlField)) throw new SharpLMException("The JSONL text field name is empty.");
        if (string.IsNullOrEmpty(this.options.ParquetColumn)) throw new SharpLMException("The Parquet text column name is empty.");
    }

    /// <summary>Reads the given paths with default options (one document per text file, field "text").</summary>
    public CorpusReader(params string[] paths) : this(paths, null) { }

    /// <summary>Counts for the current or latest pass of <see cref="ReadDocuments"/>.</summary>
    public CorpusStats Stats { get; private set; } = new();

    /// <summary>Streams the documents. Fails at the end of the pass if there were none at all.</summary>
    public IEnumerable<TextDocument> ReadDocuments()
    {
        var stats = Stats = new CorpusStats();
        foreach (string file in files.Enumerate(() => stats.IgnoredFiles++))
        {
            if (InputFile.Length(file) == 0) throw EmptyFile(file);
            stats.Files++;
            foreach (var document in ReadFile(file, stats))
            {
                stats.AddDocument(document);
                yield return document;
            }
        }
        if (stats.Documents == 0)
            throw new SharpLMException(
                $"The corpus ({string.Join(", ", files.Paths)}) has no documents: {stats.Files} file(s) read"
                + (stats.IgnoredFiles > 0 ? $", {stats.IgnoredFiles} ignored for their extension" : "")
                + (stats.Skipped > 0 ? $", {stats.Skipped} invalid record(s) skipped" : "")
                + (stats.Empty > 0 ? $", {stats.Empty} empty record(s)" : "") + ".");
    }

    IEnumerable<TextDocument> ReadFile(string file, CorpusStats stats) =>
        Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".txt" or ".md" => TextFileReader.Read(file, options.TextSplit),
            ".jsonl" => JsonlReader.Read(file, options, stats),
            ".parquet" => ParquetTextReader.Read(file, options, stats),
            _ => throw new InvalidOperationException($"unreachable: {file}"),
        };

    internal static SharpLMException EmptyFile(string path) => IO.InputFile.Empty(path);

    internal static FileStream OpenRead(string path) => IO.InputFile.OpenRead(path, "data");
}
