namespace SharpLM.Data;

/// <summary>
/// Streams preference pairs (<see cref="PreferenceRecord"/>) from <c>.jsonl</c>, <c>.csv</c> (with a header row) and
/// <c>.parquet</c> files and folders (searched recursively, files in ordinal path order), in the layouts
/// <see cref="PreferenceRecordParser"/> reads. Every problem is a <see cref="SharpLMException"/> naming the file, the line
/// or row, and the field; with <c>skipInvalid</c> bad records are skipped and listed in <see cref="Skipped"/> instead.
/// </summary>
public sealed class PreferenceReader
{
    static readonly string[] Extensions = [".jsonl", ".csv", ".parquet"];

    readonly DataFiles files;
    readonly bool skipInvalid;

    /// <summary>Checks that every path exists and that files named directly have a known extension.</summary>
    public PreferenceReader(IEnumerable<string> paths, bool skipInvalid = false)
    {
        files = new DataFiles(paths, Extensions, "preference data", "Preference data");
        this.skipInvalid = skipInvalid;
    }

    /// <summary>Records skipped in the current or latest pass of <see cref="Read"/>.</summary>
    public SkippedRecords Skipped { get; private set; } = new();

    /// <summary>Files read in the current or latest pass.</summary>
    public int Files { get; private set; }

    /// <summary>Streams the pairs. Fails at the end of the pass if there were none at all.</summary>
    public IEnumerable<PreferenceRecord> Read()
    {
        var skipped = Skipped = new SkippedRecords();
        Files = 0;
        long pairs = 0;
        foreach (string file in files.Enumerate(() => { }))
        {
            if (new FileInfo(file).Length == 0) throw CorpusReader.EmptyFile(file);
            Files++;
            foreach (var raw in InstructionReader.RawRecords(file))
            {
                string? problem = raw.Problem;
                PreferenceRecord? record = null;
                if (problem is null && PreferenceRecordParser.Parse(raw.Json, raw.Where, out record) is { } wrong)
                    problem = $"{raw.Where}: {wrong}";
                if (problem is not null)
                {
                    if (!skipInvalid) throw new SharpLMException(problem);
                    skipped.Add(problem);
                    continue;
                }
                pairs++;
                yield return record!;
            }
        }
        if (pairs == 0)
            throw new SharpLMException($"The preference data ({string.Join(", ", files.Paths)}) has no pairs: {Files} file(s) read"
                                       + (skipped.Count > 0 ? $", {skipped.Count} invalid record(s) skipped" : "") + ".");
    }
}
