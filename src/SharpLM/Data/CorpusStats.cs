namespace SharpLM.Data;

/// <summary>Counts from the most recent pass over a corpus; updated as documents are read.</summary>
public sealed class CorpusStats
{
    /// <summary>How many messages about skipped records <see cref="SkippedExamples"/> gives.</summary>
    public const int MaxExamples = 5;

    /// <summary>Files read.</summary>
    public int Files { get; internal set; }

    /// <summary>Files inside the given folders that were ignored for their extension.</summary>
    public int IgnoredFiles { get; internal set; }

    /// <summary>Documents returned.</summary>
    public long Documents { get; internal set; }

    /// <summary>UTF-8 bytes of the returned documents' text.</summary>
    public long Bytes { get; internal set; }

    /// <summary>Bad records skipped because <see cref="CorpusOptions.SkipInvalid"/> was set.</summary>
    public long Skipped => SkippedRecords.Count;

    /// <summary>Every skipped record, saying where and why.</summary>
    public SkippedRecords SkippedRecords { get; } = new();

    /// <summary>JSONL or Parquet records whose text was the empty string; they are dropped.</summary>
    public long Empty { get; internal set; }

    /// <summary>The messages of the first few skipped records, saying where and why.</summary>
    public IReadOnlyList<string> SkippedExamples => SkippedRecords.Messages.Take(MaxExamples).ToList();

    internal void AddDocument(TextDocument document)
    {
        Documents++;
        Bytes += System.Text.Encoding.UTF8.GetByteCount(document.Text);
    }

    internal void AddSkipped(string message) => SkippedRecords.Add(message);
}
