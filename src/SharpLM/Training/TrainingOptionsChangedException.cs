namespace SharpLM.Training;

/// <summary>A run was resumed with training options that change what it computes, so it would not continue as the
/// checkpoint's run would have; <see cref="Changes"/> names each one ("LearningRate 0.001 -> 0.01").</summary>
public sealed class TrainingOptionsChangedException(string source, IReadOnlyList<string> changes)
    : SharpLMException($"{source}: these training options differ from the checkpoint's, so the run would not continue exactly: " +
                       $"{string.Join("; ", changes)}. Resume with the checkpoint's values, or accept the changes explicitly")
{
    public IReadOnlyList<string> Changes { get; } = changes;
}
