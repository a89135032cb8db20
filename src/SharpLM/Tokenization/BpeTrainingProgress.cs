namespace SharpLM.Tokenization;

/// <summary>What <see cref="BpeTrainer"/> is doing.</summary>
public enum BpeTrainingStage
{
    /// <summary>Reading documents and counting pre-tokenized words; Done counts documents.</summary>
    CountingWords,

    /// <summary>Learning merges; Done counts merges, Total is the most the vocabulary size allows.</summary>
    Merging,
}

/// <summary>A progress report from <see cref="BpeTrainer"/>; Total is null when unknown.</summary>
public readonly record struct BpeTrainingProgress(BpeTrainingStage Stage, long Done, long? Total);
