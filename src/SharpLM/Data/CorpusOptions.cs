namespace SharpLM.Data;

/// <summary>How <see cref="CorpusReader"/> turns files into documents.</summary>
public sealed record CorpusOptions
{
    /// <summary>How <c>.txt</c> and <c>.md</c> files are cut into documents.</summary>
    public TextSplit TextSplit { get; init; } = TextSplit.File;

    /// <summary>The field of each <c>.jsonl</c> object that holds the text.</summary>
    public string JsonlField { get; init; } = "text";

    /// <summary>The string column of <c>.parquet</c> files that holds the text.</summary>
    public string ParquetColumn { get; init; } = "text";

    /// <summary>Skip and count bad records (malformed JSON lines, invalid UTF-8 in a JSON line,
    /// missing, null or non-string text) instead of failing. Problems with whole files
    /// (missing, empty, not Parquet, no such column) still fail.</summary>
    public bool SkipInvalid { get; init; }
}
