namespace SharpLM.Data;

/// <summary>How rendered examples become training rows.</summary>
public sealed record InstructionDatasetOptions
{
    /// <summary>Input positions per row: the sequence length the model sees, as <c>--seq-len</c> in pretraining.
    /// Inputs and targets are shifted by one, so an example may have up to <c>MaxLength + 1</c> tokens.</summary>
    public int MaxLength { get; init; } = 512;

    /// <summary>What happens to longer examples.</summary>
    public Overflow Overflow { get; init; } = Overflow.Truncate;

    /// <summary>Put several whole examples into each row (fewer padding tokens, faster); they do not attend to
    /// each other and their positions restart at 0. Off: one example per row, padded to the longest in the batch.</summary>
    public bool Packing { get; init; }

    /// <summary>The id written into padding (never trained, never attended to).</summary>
    public int PadId { get; init; }
}
