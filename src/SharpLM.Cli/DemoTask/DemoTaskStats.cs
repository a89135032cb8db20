namespace SharpLM.Cli.DemoTask;

/// <summary>How many entries and words each step of <see cref="DemoTaskBuilder"/> read, dropped and kept.</summary>
sealed record DemoTaskStats
{
    /// <summary>Lines read from CMUdict, and how many of them were alternate pronunciations (skipped).</summary>
    public int CmudictEntries { get; init; }
    public int CmudictAlternates { get; init; }

    /// <summary>CMUdict words that are plain letters of the allowed length.</summary>
    public int SimpleWords { get; init; }

    /// <summary>Simple words that are not a WordNet lemma.</summary>
    public int NotInWordNet { get; init; }

    /// <summary>Words tagged fewer than <see cref="DemoTaskOptions.MinTagCount"/> times.</summary>
    public int Rare { get; init; }

    /// <summary>Words whose first sense is only a name or abbreviation (WordNet spells it capitalised there).</summary>
    public int NamesOnly { get; init; }

    /// <summary>Words with a pronunciation example, and those among them with a meaning example.</summary>
    public int PronunciationWords { get; init; }
    public int MeaningWords { get; init; }

    /// <summary>Words left out of the meaning task because the definition is longer than allowed (or empty).</summary>
    public int LongDefinitions { get; init; }
}
