namespace SharpLM.Data;

/// <summary>What <see cref="InstructionDataset"/> does with an example longer than the maximum length.</summary>
public enum Overflow
{
    /// <summary>Keep its beginning, cut the end; dropped when none of its trained tokens is left.</summary>
    Truncate,

    /// <summary>Leave it out.</summary>
    Drop,
}
