namespace SharpLM.Data;

/// <summary>How <see cref="InstructionReader"/> reads records.</summary>
public sealed record InstructionReaderOptions
{
    /// <summary>The record format; <see cref="InstructionFormat.Auto"/> detects it per file.</summary>
    public InstructionFormat Format { get; init; } = InstructionFormat.Auto;

    /// <summary>Skip and count bad records (malformed JSON or CSV, invalid UTF-8, missing or non-string fields,
    /// unknown roles, turns out of order, no or empty answers) instead of failing at the first one.
    /// Problems with whole files (missing, empty, unreadable Parquet) still fail.</summary>
    public bool SkipInvalid { get; init; }
}
