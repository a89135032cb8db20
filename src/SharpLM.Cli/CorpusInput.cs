using System.CommandLine;
using SharpLM.Data;
using SharpLM.Tokenization;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>The options every command that reads a text corpus shares, and reading it with a progress display.</summary>
sealed class CorpusInput
{
    public readonly Option<TextSplit> TextSplit = new("--text-split")
    {
        Description = "How .txt/.md files become documents: File (one per file), Line, or Paragraph (blank-line separated).",
        DefaultValueFactory = _ => Data.TextSplit.File,
    };
    public readonly Option<string> JsonlField = new("--text-field")
    {
        Description = "Field of .jsonl objects (column of .parquet files) that holds the text.",
        DefaultValueFactory = _ => "text",
    };
    public readonly Option<bool> SkipInvalid = new("--skip-invalid")
    {
        Description = "Skip and count malformed JSONL lines instead of stopping at the first one.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(TextSplit);
        command.Options.Add(JsonlField);
        command.Options.Add(SkipInvalid);
    }

    public CorpusReader Reader(ParseResult parse, IEnumerable<string> paths) => new(paths, new CorpusOptions
    {
        TextSplit = parse.GetValue(TextSplit),
        JsonlField = parse.GetValue(JsonlField)!,
        ParquetColumn = parse.GetValue(JsonlField)!,
        SkipInvalid = parse.GetValue(SkipInvalid),
    });

    /// <summary>Reads and tokenizes every document under <paramref name="paths"/>, showing progress, then what was
    /// skipped (listed in full in <paramref name="runFolder"/>, when given).</summary>
    public List<int[]> Tokenize(ParseResult parse, IEnumerable<string> paths, ITokenizer tokenizer, string label, string? runFolder = null)
    {
        var reader = Reader(parse, paths);
        List<int[]> documents = null!;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        AnsiConsole.Status().Start($"Tokenizing {label}...", ctx =>
        {
            documents = CorpusTokenizer.Tokenize(reader.ReadDocuments(), tokenizer,
                (docs, bytes) => ctx.Status($"Tokenizing {label}: {docs:N0} documents, {bytes / 1e6:F1} MB"));
        });
        var stats = reader.Stats;
        long tokens = documents.Sum(d => (long)d.Length);
        AnsiConsole.MarkupLine(
            $"{Markup.Escape(label)}: {stats.Documents:N0} documents from {stats.Files:N0} file(s), {stats.Bytes / 1e6:F1} MB, " +
            $"{tokens:N0} tokens ({clock.Elapsed.TotalSeconds:F1} s, " +
            $"{stats.Bytes / 1e6 / Math.Max(clock.Elapsed.TotalSeconds, 1e-3):F1} MB/s)");
        SkippedRecordsReport.Show(stats.SkippedRecords, label, runFolder);
        if (stats.IgnoredFiles > 0) AnsiConsole.MarkupLineInterpolated($"[grey]ignored {stats.IgnoredFiles} file(s) with other extensions[/]");
        return documents;
    }
}
