using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>
/// Streams fine-tuning records from <c>.jsonl</c>, <c>.csv</c> (with a header row) and <c>.parquet</c> files and
/// folders (searched recursively, files in ordinal path order): plain text for continued pretraining, or
/// conversations in the Alpaca, prompt/completion or chat-messages layout (see <see cref="InstructionFormat"/>).
/// </summary>
/// <remarks>
/// With <see cref="InstructionFormat.Auto"/> each file's format is taken from its first valid record, and every
/// later record of that file must have the same layout: a file that mixes layouts fails (or has the odd records
/// skipped) instead of being read half one way and half another.
/// Every problem is a <see cref="SharpLMException"/> naming the file, the line or row, and the field. Empty answers
/// are errors (training on them teaches the model to stop at once); with
/// <see cref="InstructionReaderOptions.SkipInvalid"/> they are skipped and counted like any other bad record.
/// </remarks>
public sealed class InstructionReader
{
    static readonly string[] Extensions = [".jsonl", ".csv", ".parquet", ".txt", ".md"];

    readonly DataFiles files;
    readonly InstructionReaderOptions options;

    /// <summary>Checks that every path exists and that files named directly have a known extension.</summary>
    public InstructionReader(IEnumerable<string> paths, InstructionReaderOptions? options = null)
    {
        files = new DataFiles(paths, Extensions, "instruction data", "Instruction data");
        this.options = options ?? new InstructionReaderOptions();
    }

    /// <summary>Reads the given paths, detecting each file's format, failing at the first bad record.</summary>
    public InstructionReader(params string[] paths) : this(paths, null) { }

    /// <summary>Counts for the current or latest pass of <see cref="Read"/>.</summary>
    public InstructionStats Stats { get; private set; } = new();

    /// <summary>Streams the records. Fails at the end of the pass if there were none at all.</summary>
    public IEnumerable<InstructionRecord> Read()
    {
        var stats = Stats = new InstructionStats();
        foreach (string file in files.Enumerate(() => stats.IgnoredFiles++))
        {
            if (InputFile.Length(file) == 0) throw CorpusReader.EmptyFile(file);
            stats.Files++;
            foreach (var record in ReadFile(file, stats))
            {
                if (record.Conversation is not null) stats.Conversations++;
                else stats.Texts++;
                yield return record;
            }
        }
        if (stats.Records == 0)
            throw new SharpLMException(
                $"The instruction data ({string.Join(", ", files.Paths)}) has no records: {stats.Files} file(s) read"
                + (stats.IgnoredFiles > 0 ? $", {stats.IgnoredFiles} ignored for their extension" : "")
                + (stats.Skipped > 0 ? $", {stats.Skipped} invalid record(s) skipped" : "")
                + (stats.Empty > 0 ? $", {stats.Empty} empty text(s)" : "") + ".");
    }

    IEnumerable<InstructionRecord> ReadFile(string file, InstructionStats stats)
    {
        if (Path.GetExtension(file).ToLowerInvariant() is ".txt" or ".md")
        {
            // Plain text is domain text for continued pretraining: one record per file.
            stats.SetFormat(file, InstructionFormat.Text);
            foreach (var document in new CorpusReader(file).ReadDocuments())
                yield return InstructionRecord.FromText(document.Text, document.Source);
            yield break;
        }
        InstructionFormat format = options.Format;
        string? detectedAt = null;
        if (format != InstructionFormat.Auto) stats.SetFormat(file, format);
        foreach (var raw in RawRecords(file))
        {
            string? problem = raw.Problem;
            InstructionRecord? record = null;
            if (problem is null && format == InstructionFormat.Auto)
            {
                if (InstructionRecordParser.Detect(raw.Json) is { } detected)
                {
                    format = detected;
                    detectedAt = raw.Where;
                    stats.SetFormat(file, format);
                }
                else
                    problem = $"{raw.Where}: {InstructionRecordParser.DetectionProblem(raw.Json)}";
            }
            if (problem is null && InstructionRecordParser.Parse(raw.Json, format, raw.Where, out record) is { } wrong)
            {
                // A record that looks like another layout than the file's first one: say why that layout was expected.
                bool otherLayout = detectedAt is not null && InstructionRecordParser.Detect(raw.Json) != format;
                problem = $"{raw.Where}: {wrong}" + (otherLayout ? $" (the file holds {Describe(format)} records, as detected at {detectedAt})" : "");
            }

            if (problem is not null)
            {
                if (!options.SkipInvalid) throw new SharpLMException(problem);
                stats.AddSkipped(problem);
            }
            else if (record is null)
                stats.Empty++;
            else
                yield return record;
        }
    }

    static string Describe(InstructionFormat format) => format switch
    {
        InstructionFormat.Text => "text",
        InstructionFormat.Alpaca => "Alpaca (instruction/input/output)",
        InstructionFormat.PromptCompletion => "prompt/completion",
        InstructionFormat.Messages => "chat (messages)",
        _ => format.ToString(),
    };

    /// <summary>The records of a .jsonl, .csv or .parquet file, as JSON objects.</summary>
    internal static IEnumerable<RawRecord> RawRecords(string file) =>
        Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".jsonl" => JsonlRecordReader.Read(file),
            ".csv" => CsvRecordReader.Read(file),
            ".parquet" => ParquetRecordReader.Read(file),
            _ => throw new InvalidOperationException($"unreachable: {file}"),
        };
}
