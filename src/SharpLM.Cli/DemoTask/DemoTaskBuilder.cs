namespace SharpLM.Cli.DemoTask;

/// <summary>
/// Builds the demo instruction task from CMUdict and WordNet: for each common, simple word, "How is WORD (W O R D)
/// pronounced?" (CMUdict's main pronunciation) and "What does WORD mean?" (the definition of WordNet's first
/// sense, from the part of speech whose first sense is tagged most often). Words are split by
/// <see cref="WordSplitter"/>, so a held-out word is held out for both questions. The pronunciation question spells
/// the word out because a BPE model sees a common word as one token: without the letters, the pronunciation of a
/// word it never saw could only be guessed, not worked out.
/// </summary>
sealed class DemoTaskBuilder(DemoTaskSources sources, DemoTaskOptions options)
{
    /// <summary>A candidate word: its pronunciation, and once found, its tag count and first senses.</summary>
    sealed class Word(string phones)
    {
        public string Phones { get; } = phones;
        public int TagCount { get; set; }
        public Dictionary<PartOfSpeech, WordNetSense> FirstSenses { get; } = [];
    }

    public DemoTaskDataSet Build()
    {
        options.Validate();
        var words = ReadPronunciations(out int entries, out int alternates);
        ReadSenses(words);
        var synsets = ReadSynsets(words.Values.SelectMany(w => w.FirstSenses.Values));

        var pronunciations = new List<DemoTaskExample>();
        var meanings = new List<DemoTaskExample>();
        int notInWordNet = 0, rare = 0, namesOnly = 0, longDefinitions = 0;
        foreach (var (spelling, word) in words)
        {
            if (word.FirstSenses.Count == 0) { notInWordNet++; continue; }
            if (word.TagCount < options.MinTagCount) { rare++; continue; }
            var sense = MostTagged(word.FirstSenses);
            var synset = synsets[(sense.PartOfSpeech, sense.SynsetOffset)];
            // WordNet keeps the case of names ("Aaron", "AAA"); a lower-case lemma there means an ordinary word.
            if (!synset.Words.Contains(spelling, StringComparer.Ordinal)) { namesOnly++; continue; }

            pronunciations.Add(new DemoTaskExample(DemoTaskKind.Pronunciation, spelling, PronunciationQuestion(spelling), word.Phones));
            string definition = WordNetGloss.Definition(synset.Gloss);
            int length = definition.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            if (length == 0 || length > options.MaxDefinitionWords) { longDefinitions++; continue; }
            string answer = options.PartOfSpeechInAnswer ? $"{DemoTaskExample.PartOfSpeechName(sense.PartOfSpeech)}: {definition}" : definition;
            meanings.Add(new DemoTaskExample(DemoTaskKind.Meaning, spelling, $"What does \"{spelling}\" mean?", answer, sense.PartOfSpeech));
        }

        var stats = new DemoTaskStats
        {
            CmudictEntries = entries,
            CmudictAlternates = alternates,
            SimpleWords = words.Count,
            NotInWordNet = notInWordNet,
            Rare = rare,
            NamesOnly = namesOnly,
            PronunciationWords = pronunciations.Count,
            MeaningWords = meanings.Count,
            LongDefinitions = longDefinitions,
        };
        return new DemoTaskDataSet(
            Split(pronunciations, meanings, DemoTaskSplit.Train, options.TrainExamples),
            Split(pronunciations, meanings, DemoTaskSplit.Valid, options.ValidExamples),
            Split(pronunciations, meanings, DemoTaskSplit.Test, options.TestExamples),
            stats);
    }

    /// <summary>Main pronunciations of the words spelled with letters only and of the allowed length, lower-cased.</summary>
    SortedDictionary<string, Word> ReadPronunciations(out int entries, out int alternates)
    {
        var words = new SortedDictionary<string, Word>(StringComparer.Ordinal);
        var lines = new Dictionary<string, long>(StringComparer.Ordinal);
        entries = alternates = 0;
        foreach (var entry in CmudictReader.Read(sources.CmudictFile))
        {
            entries++;
            if (entry.Variant > 0) { alternates++; continue; }
            if (!IsSimple(entry.Word)) continue;
            string spelling = entry.Word.ToLowerInvariant();
            if (!lines.TryAdd(spelling, entry.Line))
                throw new SharpLMException($"{sources.CmudictFile}:{entry.Line}: " +
                                           $"\"{entry.Word}\" already has a main pronunciation on line {lines[spelling]}");
            words.Add(spelling, new Word(entry.Phones));
        }
        return words;
    }

    bool IsSimple(string word) =>
        word.Length >= options.MinLetters && word.Length <= options.MaxLetters && word.All(c => c is >= 'A' and <= 'Z');

    /// <summary>Adds up each candidate's tag counts over all its senses and keeps its sense 1 of each part of speech.</summary>
    void ReadSenses(SortedDictionary<string, Word> words)
    {
        foreach (var sense in WordNetReader.ReadSenseIndex(Path.Combine(sources.WordNetFolder, WordNetReader.SenseIndexFile)))
        {
            if (!words.TryGetValue(sense.Lemma, out var word)) continue;
            word.TagCount += sense.TagCount;
            if (sense.SenseNumber == 1) word.FirstSenses[sense.PartOfSpeech] = sense;
        }
    }

    /// <summary>The sense 1 tagged most often; ties go to noun, verb, adjective, adverb in that order.</summary>
    static WordNetSense MostTagged(Dictionary<PartOfSpeech, WordNetSense> firstSenses) =>
        firstSenses.Values.OrderByDescending(s => s.TagCount).ThenBy(s => s.PartOfSpeech).First();

    /// <summary>Reads the data files once each and keeps the synsets the given senses point to.</summary>
    Dictionary<(PartOfSpeech, long), WordNetSynset> ReadSynsets(IEnumerable<WordNetSense> senses)
    {
        var wanted = senses.ToList();
        var needed = wanted.Select(s => (s.PartOfSpeech, s.SynsetOffset)).ToHashSet();
        var found = new Dictionary<(PartOfSpeech, long), WordNetSynset>();
        foreach (var pos in Enum.GetValues<PartOfSpeech>())
        {
            if (!needed.Any(n => n.PartOfSpeech == pos)) continue;
            foreach (var synset in WordNetReader.ReadSynsets(Path.Combine(sources.WordNetFolder, WordNetReader.DataFile(pos)), pos))
                if (needed.Contains((pos, synset.Offset))) found[(pos, synset.Offset)] = synset;
        }
        var missing = wanted.FirstOrDefault(s => !found.ContainsKey((s.PartOfSpeech, s.SynsetOffset)));
        if (missing is not null)
            throw new SharpLMException(
                $"{Path.Combine(sources.WordNetFolder, WordNetReader.SenseIndexFile)}:{missing.Line}: sense of \"{missing.Lemma}\" " +
                $"points to synset {missing.SynsetOffset:D8}, which {WordNetReader.DataFile(missing.PartOfSpeech)} does not have");
        return found;
    }

    /// <summary>The examples of one split: up to half of <paramref name="cap"/> per task (the pronunciation half
    /// gets the odd one), taken in hash order of the word, then shuffled by a hash of task and word so the tasks
    /// are interleaved.</summary>
    DemoTaskExample[] Split(List<DemoTaskExample> pronunciations, List<DemoTaskExample> meanings, DemoTaskSplit split, int cap) =>
        [.. Take(pronunciations, split, cap - cap / 2)
            .Concat(Take(meanings, split, cap / 2))
            .OrderBy(e => WordSplitter.Hash($"{DemoTaskExample.TaskName(e.Kind)}:{e.Word}"))
            .ThenBy(e => e.Kind)
            .ThenBy(e => e.Word, StringComparer.Ordinal)];

    IEnumerable<DemoTaskExample> Take(List<DemoTaskExample> examples, DemoTaskSplit split, int count) =>
        examples
            .Where(e => WordSplitter.SplitOf(e.Word, options.ValidPercent, options.TestPercent) == split)
            .OrderBy(e => WordSplitter.Hash(e.Word))
            .ThenBy(e => e.Word, StringComparer.Ordinal)
            .Take(count);

    /// <summary>"How is "cat" (c a t) pronounced?": the word and its letters, one token each for the model.</summary>
    public static string PronunciationQuestion(string spelling) => $"How is \"{spelling}\" ({string.Join(' ', spelling.ToCharArray())}) pronounced?";
}
