using SharpLM.Tokenization;

namespace SharpLM.Tests.Tokenization;

/// <summary>A small generated English-like corpus and a tokenizer trained on it (shared, trained once).</summary>
static class TestCorpus
{
    static readonly string[] Words =
    [
        "the", "model", "learns", "to", "predict", "next", "token", "from", "text", "and", "it's", "training",
        "data", "language", "we'll", "tokenizer", "merges", "pairs", "of", "bytes", "quickly", "Hello", "World",
    ];

    /// <summary>Deterministic documents: sentences of the words above with numbers, punctuation and newlines.</summary>
    public static IEnumerable<string> Documents(int count = 200, int seed = 7)
    {
        var random = new Random(seed);
        for (int d = 0; d < count; d++)
        {
            var sentence = new List<string>();
            int n = random.Next(5, 30);
            for (int i = 0; i < n; i++)
            {
                sentence.Add(Words[random.Next(Words.Length)]);
                if (random.Next(10) == 0) sentence.Add(random.Next(2000).ToString());
            }
            yield return string.Join(' ', sentence) + (random.Next(3) == 0 ? ".\n\n" : ", ");
        }
    }

    static readonly Lazy<ByteLevelBpeTokenizer> trained = new(() =>
        new BpeTrainer(new BpeTrainerOptions { VocabSize = 400 }).Train(Documents()));

    /// <summary>A 400-token tokenizer with SharpLM's default special tokens.</summary>
    public static ByteLevelBpeTokenizer Tokenizer => trained.Value;
}
