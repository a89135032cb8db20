namespace SharpLM.Data;

/// <summary>Counts from the most recent pass of <see cref="InstructionReader.Read"/>; updated as records are read.</summary>
public sealed class InstructionStats
{
    /// <summary>How many messages about skipped records <see cref="SkippedExamples"/> gives.</summary>
    public const int MaxExamples = 5;
    readonly Dictionary<string, InstructionFormat> formats = [];

    /// <summary>Files read.</summary>
    public int Files { get; internal set; }

    /// <summary>Files inside the given folders that were ignored for their extension.</summary>
    public int IgnoredFiles { get; internal set; }

    /// <summary>Conversations returned.</summary>
    public long Conversations { get; internal set; }

    /// <summary>Plain-text records returned.</summary>
    public long Texts { get; internal set; }

    /// <summary>Records returned (conversations and texts).</summary>
    public long Records => Conversations + Texts;

    /// <summary>Bad records skipped because <see cref="InstructionReaderOptions.SkipInvalid"/> was set.</summary>
    public long Skipped => SkippedRecords.Count;

    /// <summary>Every skipped record, saying where and why.</summary>
    public SkippedRecords SkippedRecords { get; } = new();

    /// <summary>Plain-text records whose text was the empty string; they are dropped, as in pretraining corpora.</summary>
    public long Empty { get; internal set; }

    /// <summary>The messages of the first few skipped records, saying where and why.</summary>
    public IReadOnlyList<string> SkippedExamples => SkippedRecords.Messages.Take(MaxExamples).ToList();

    /// <summary>The format each file was read in (detected, or as given).</summary>
    public IReadOnlyDictionary<string, InstructionFormat> Formats => formats;

    internal void AddSkipped(string message) => SkippedRecords.Add(message);

    internal void SetFormat(string file, InstructionFormat format) => formats[file] = format;
}
