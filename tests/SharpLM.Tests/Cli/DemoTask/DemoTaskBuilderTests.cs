using SharpLM.Cli.DemoTask;
using Xunit;

namespace SharpLM.Tests.Cli.DemoTask;

public class DemoTaskBuilderTests : IDisposable
{
    // Everything in training, nothing capped: shows the filters alone.
    static readonly DemoTaskOptions AllTrain = new() { ValidPercent = 0, TestPercent = 0 };

    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static Dictionary<string, string> Answers(IEnumerable<DemoTaskExample> examples, DemoTaskKind kind) =>
        examples.Where(e => e.Kind == kind).ToDictionary(e => e.Word, e => e.Answer);

    [Fact]
    public void AsksBothQuestionsAboutCommonSimpleWords()
    {
        var data = new DemoTaskBuilder(DemoTaskSample.Write(dir.Path), AllTrain).Build();

        Assert.Equal(
            new Dictionary<string, string>
            {
                ["breathe"] = "B R IY1 DH", ["cat"] = "K AE1 T", ["dying"] = "D AY1 IH0 NG", ["entity"] = "EH1 N T AH0 T IY0",
                ["fast"] = "F AE1 S T", ["handy"] = "HH AE1 N D IY0", ["run"] = "R AH1 N", ["sadly"] = "S AE1 D L IY0",
            },
            Answers(data.Train, DemoTaskKind.Pronunciation));
        // The part of speech whose first sense is tagged most wins (fast: adjective 18 > adverb 16 > noun 1);
        // satellites count as adjectives (handy); definitions over 12 words are left out (cat, dying, entity, run).
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["breathe"] = "verb: draw air into, and expel out of, the lungs",
                ["fast"] = "adjective: acting or moving or capable of acting or moving quickly",
                ["handy"] = "adjective: easy to reach",
                ["sadly"] = "adverb: in an unfortunate way",
            },
            Answers(data.Train, DemoTaskKind.Meaning));
        Assert.Empty(data.Valid);
        Assert.Empty(data.Test);

        var sadly = data.Train.Single(e => e.Word == "sadly" && e.Kind == DemoTaskKind.Meaning);
        Assert.Equal(("What does \"sadly\" mean?", PartOfSpeech.Adverb), (sadly.Question, sadly.PartOfSpeech));
        Assert.Equal("How is \"cat\" (c a t) pronounced?", data.Train.Single(e => e.Word == "cat").Question);

        Assert.Equal(
            new DemoTaskStats
            {
                CmudictEntries = 13, CmudictAlternates = 1, SimpleWords = 11, NotInWordNet = 2, Rare = 1, NamesOnly = 0,
                PronunciationWords = 8, LongDefinitions = 4, MeaningWords = 4,
            },
            data.Stats);
    }

    [Fact]
    public void OptionsLoosenTheFilters()
    {
        var options = AllTrain with { MaxDefinitionWords = 20, MinTagCount = 0, MinLetters = 4, MaxLetters = 5, PartOfSpeechInAnswer = false };
        var data = new DemoTaskBuilder(DemoTaskSample.Write(dir.Path), options).Build();

        // 4-5 letters: aaron, dying, fast, handy, sadly, (read: not in the sample's WordNet); aaron's only sense is a name.
        Assert.Equal(["dying", "fast", "handy", "sadly"], Answers(data.Train, DemoTaskKind.Pronunciation).Keys.Order());
        Assert.Equal("in or associated with the process of passing from life or ceasing to be", Answers(data.Train, DemoTaskKind.Meaning)["dying"]);
        Assert.Equal(1, data.Stats.NamesOnly);
        Assert.Equal(0, data.Stats.Rare);
    }

    [Fact]
    public void HeldOutWordsAreHeldOutForBothTasks()
    {
        var sources = WriteSyntheticSources(400);
        var options = new DemoTaskOptions { ValidPercent = 20, TestPercent = 20, TrainExamples = 10_000, ValidExamples = 50, TestExamples = 31 };
        var data = new DemoTaskBuilder(sources, options).Build();

        var splitsOfWord = Enum.GetValues<DemoTaskSplit>()
            .SelectMany(split => data.Examples(split).Select(e => (e.Word, split)))
            .GroupBy(x => x.Word)
            .ToDictionary(g => g.Key, g => g.Select(x => x.split).Distinct().ToList());
        Assert.All(splitsOfWord, pair => Assert.Equal([WordSplitter.SplitOf(pair.Key, 20, 20)], pair.Value));

        // Caps are split between the tasks (the odd example goes to pronunciation) and filled from the lowest hashes.
        Assert.Equal((25, 25), Count(data.Valid));
        Assert.Equal((16, 15), Count(data.Test));
        var testWords = sources.Words.Where(w => WordSplitter.SplitOf(w, 20, 20) == DemoTaskSplit.Test).OrderBy(WordSplitter.Hash).Take(16);
        Assert.Equal(testWords.Order(), data.Test.Where(e => e.Kind == DemoTaskKind.Pronunciation).Select(e => e.Word).Order());

        // Training keeps every training word: the cap is not reached.
        int trainWords = sources.Words.Count(w => WordSplitter.SplitOf(w, 20, 20) == DemoTaskSplit.Train);
        Assert.Equal(trainWords, Count(data.Train).Pronunciations);
        Assert.Equal(data.Stats.MeaningWords * 1.0 / data.Stats.PronunciationWords, Count(data.Train).Meanings * 1.0 / trainWords, precision: 1);
    }

    [Fact]
    public void TrainingCapIsSharedBetweenTheTasks()
    {
        var data = new DemoTaskBuilder(WriteSyntheticSources(200), new DemoTaskOptions { TrainExamples = 21 }).Build();
        Assert.Equal((11, 10), Count(data.Train));
    }

    [Fact]
    public void SameInputsGiveTheSameBytesWhateverTheLineOrder()
    {
        var first = new DemoTaskBuilder(WriteSyntheticSources(300, "a"), new DemoTaskOptions()).Build();
        var second = new DemoTaskBuilder(WriteSyntheticSources(300, "b", reverse: true), new DemoTaskOptions()).Build();
        first.Write(dir.File("out1"));
        second.Write(dir.File("out2"));

        foreach (var split in Enum.GetValues<DemoTaskSplit>())
        {
            string name = DemoTaskDataSet.FileName(split);
            Assert.Equal(File.ReadAllBytes(dir.File($"out1/{name}")), File.ReadAllBytes(dir.File($"out2/{name}")));
        }
        Assert.NotEmpty(first.Test);
    }

    [Fact]
    public void WritesChatMessagesJsonLines()
    {
        new DemoTaskBuilder(DemoTaskSample.Write(dir.Path), AllTrain).Build().Write(dir.File("out"));

        var lines = File.ReadAllText(dir.File("out/train.jsonl"));
        Assert.EndsWith("}\n", lines);
        Assert.DoesNotContain("\r", lines);
        Assert.Contains(
            "{\"messages\":[{\"role\":\"user\",\"content\":\"How is \\\"cat\\\" (c a t) pronounced?\"}," +
            "{\"role\":\"assistant\",\"content\":\"K AE1 T\"}],\"task\":\"pronunciation\",\"word\":\"cat\"}\n",
            lines);
        Assert.Contains(
            "{\"messages\":[{\"role\":\"user\",\"content\":\"What does \\\"sadly\\\" mean?\"}," +
            "{\"role\":\"assistant\",\"content\":\"adverb: in an unfortunate way\"}],\"task\":\"meaning\",\"word\":\"sadly\",\"pos\":\"adverb\"}\n",
            lines);
        Assert.Equal(12, lines.Count(c => c == '\n'));
        Assert.Equal("", File.ReadAllText(dir.File("out/test.jsonl")));
    }

    [Fact]
    public void SenseThatPointsNowhereNamesTheIndexLine()
    {
        var senses = DemoTaskSample.SenseIndex.Append("zebra%1:05:00:: 02391049 1 3").Order(StringComparer.Ordinal).ToList();
        var sources = DemoTaskSample.Write(dir.Path, cmudict: [.. DemoTaskSample.Cmudict, "ZEBRA  Z IY1 B R AH0"], senseIndex: senses);

        var e = Assert.Throws<SharpLMException>(() => new DemoTaskBuilder(sources, AllTrain).Build());
        Assert.Equal($"{Path.Combine(sources.WordNetFolder, "index.sense")}:{senses.Count}: sense of \"zebra\" points to synset 02391049, " +
                     "which data.noun does not have", e.Message);
    }

    [Fact]
    public void SecondMainPronunciationIsAnError()
    {
        var sources = DemoTaskSample.Write(dir.Path, cmudict: [.. DemoTaskSample.Cmudict, "CAT  K AA1 T"]);
        var e = Assert.Throws<SharpLMException>(() => new DemoTaskBuilder(sources, AllTrain).Build());
        Assert.Equal($"{sources.CmudictFile}:14: \"CAT\" already has a main pronunciation on line 4", e.Message);
    }

    [Fact]
    public void LocatesFilesInsideTheUnpackedPackages()
    {
        Directory.CreateDirectory(dir.File("cmu/package/data"));
        File.WriteAllText(dir.File("cmu/package/data/dict.txt"), "CAT  K AE1 T\n");
        Directory.CreateDirectory(dir.File("wn/package/dict"));
        File.WriteAllText(dir.File("wn/package/dict/index.sense"), "");

        var sources = DemoTaskSources.Locate(dir.File("cmu/package"), dir.File("wn/package"));
        Assert.Equal((dir.File("cmu/package/data/dict.txt"), dir.File("wn/package/dict")), (sources.CmudictFile, sources.WordNetFolder));

        var e = Assert.Throws<SharpLMException>(() => DemoTaskSources.Locate(dir.File("cmu/package"), dir.File("cmu")));
        Assert.Contains("no WordNet database found", e.Message);
        e = Assert.Throws<SharpLMException>(() => DemoTaskSources.Locate(dir.File("wn"), dir.File("wn/package")));
        Assert.Contains("no CMUdict found", e.Message);
    }

    static (int Pronunciations, int Meanings) Count(IEnumerable<DemoTaskExample> examples) =>
        (examples.Count(e => e.Kind == DemoTaskKind.Pronunciation), examples.Count(e => e.Kind == DemoTaskKind.Meaning));

    sealed record SyntheticSources(string CmudictFile, string WordNetFolder, List<string> Words)
    {
        public static implicit operator DemoTaskSources(SyntheticSources s) => new(s.CmudictFile, s.WordNetFolder);
    }

    /// <summary>Made-up words in the real formats: "baaa", "baab", ... each a noun tagged once; every third one has
    /// a definition too long for the meaning task.</summary>
    SyntheticSources WriteSyntheticSources(int count, string folder = "synthetic", bool reverse = false)
    {
        var words = Enumerable.Range(0, count).Select(i => "b" + (char)('a' + i / 676) + (char)('a' + i / 26 % 26) + (char)('a' + i % 26)).ToList();
        var ordered = reverse ? Enumerable.Reverse(words).ToList() : words;
        var wordnet = new WordNetSample();
        foreach (var (word, i) in ordered.Select(w => (w, words.IndexOf(w))))
        {
            string gloss = i % 3 == 0 ? "a made-up thing with a definition that runs on for far too many words" : $"made-up thing number {i}";
            wordnet.Synset(PartOfSpeech.Noun, $"{{{word}}} 05 n 01 {word} 0 000 | {gloss}; \"an example with {word}\"  ");
        }
        foreach (var word in words) wordnet.Sense($"{word}%1:05:00:: {{{word}}} 1 1");
        string root = dir.File(folder);
        wordnet.Write(Path.Combine(root, "wordnet"));
        string cmudict = Path.Combine(root, "dict.txt");
        File.WriteAllLines(cmudict, ordered.Select(w => $"{w.ToUpperInvariant()}  B AE1 K"));
        return new SyntheticSources(cmudict, Path.Combine(root, "wordnet"), words);
    }
}
