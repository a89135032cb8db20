namespace SharpLM.Cli.DemoTask;

/// <summary>Filters, split and sizes of the demo instruction task. The defaults keep it small and simple enough
/// for a ~16M-parameter model trained for minutes on a CPU.</summary>
sealed record DemoTaskOptions
{
    /// <summary>Shortest and longest word kept (letters a-z only).</summary>
    public int MinLetters { get; init; } = 3;
    public int MaxLetters { get; init; } = 8;

    /// <summary>Words whose definition is longer are left out of the meaning task (glosses are not cut: a cut
    /// definition would teach the model to stop mid-sentence).</summary>
    public int MaxDefinitionWords { get; init; } = 12;

    /// <summary>A word is kept only if WordNet's sense-tagged corpus counts it at least this often over all its
    /// senses: a rough frequency filter that drops rare and technical words.</summary>
    public int MinTagCount { get; init; } = 1;

    /// <summary>Whether the meaning answer starts with the part of speech ("noun: ...").</summary>
    public bool PartOfSpeechInAnswer { get; init; } = true;

    /// <summary>Most examples per split, shared equally by the two tasks (a task short of words keeps its half unused).</summary>
    public int TrainExamples { get; init; } = 20_000;
    public int ValidExamples { get; init; } = 500;
    public int TestExamples { get; init; } = 300;

    /// <summary>Share of words (by hash) held out for validation and for test; the rest is for training.</summary>
    public double ValidPercent { get; init; } = 5;
    public double TestPercent { get; init; } = 5;

    public void Validate()
    {
        if (MinLetters < 1 || MaxLetters < MinLetters)
            throw new SharpLMException($"word length must satisfy 1 <= min ({MinLetters}) <= max ({MaxLetters})");
        if (MaxDefinitionWords < 1) throw new SharpLMException($"max definition words must be at least 1, got {MaxDefinitionWords}");
        if (MinTagCount < 0) throw new SharpLMException($"min tag count must be 0 or more, got {MinTagCount}");
        if (TrainExamples < 0 || ValidExamples < 0 || TestExamples < 0)
            throw new SharpLMException("example counts must be 0 or more");
        if (ValidPercent < 0 || TestPercent < 0 || ValidPercent + TestPercent >= 100)
            throw new SharpLMException($"valid ({ValidPercent}%) and test ({TestPercent}%) shares must be 0 or more " +
                                       "and leave some words for training");
    }
}
