using System.Diagnostics;
using SharpLM.Tokenization;

namespace SharpLM.Bench;

/// <summary>
/// `bench tokenizer [corpus-folder] [--vocab-size N]`: trains a byte-level BPE tokenizer on the
/// .txt files of a folder (default data/corpus/train), then times single-threaded encode and decode
/// over the whole corpus.
/// </summary>
static class TokenizerBench
{
    public static int Run(string[] args)
    {
        string? folder = null;
        int vocabSize = 8000;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--vocab-size" && i + 1 < args.Length) vocabSize = int.Parse(args[++i]);
            else folder = args[i];
        }
        folder ??= "data/corpus/train";
        if (!Directory.Exists(folder))
        {
            Console.Error.WriteLine($"tokenizer bench: corpus folder {folder} not found; pass a folder of .txt files.");
            return 2;
        }
        var docs = Directory.EnumerateFiles(folder, "*.txt", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal).Select(File.ReadAllText).ToList();
        double mb = docs.Sum(d => (double)System.Text.Encoding.UTF8.GetByteCount(d)) / 1e6;
        long chars = docs.Sum(d => (long)d.Length);
        Console.WriteLine($"corpus: {folder}, {docs.Count} documents, {mb:F2} MB UTF-8, {chars:N0} chars");

        var clock = Stopwatch.StartNew();
        TimeSpan counted = default;
        var tokenizer = new BpeTrainer(new BpeTrainerOptions { VocabSize = vocabSize }).Train(docs, p =>
        {
            if (p.Stage == BpeTrainingStage.Merging && counted == default) counted = clock.Elapsed;
        });
        var trained = clock.Elapsed;
        Console.WriteLine($"train {tokenizer.VocabSize} vocab ({tokenizer.Merges.Count} merges): {trained.TotalSeconds:F2} s " +
                          $"(counting words {counted.TotalSeconds:F2} s, merging {(trained - counted).TotalSeconds:F2} s)");

        // The first pass fills the word cache; the second shows steady-state speed.
        var encoded = new int[docs.Count][];
        foreach (var pass in new[] { "encode (cold cache)", "encode (warm cache)" })
        {
            clock.Restart();
            for (int i = 0; i < docs.Count; i++) encoded[i] = tokenizer.Encode(docs[i]);
            double s = clock.Elapsed.TotalSeconds;
            long tokens = encoded.Sum(e => (long)e.Length);
            Console.WriteLine($"{pass}: {mb / s:F1} MB/s, {tokens / s / 1e6:F2} M tokens/s ({tokens:N0} tokens, {s:F2} s)");
        }

        clock.Restart();
        bool lossless = true;
        for (int i = 0; i < docs.Count; i++) lossless &= tokenizer.Decode(encoded[i]) == docs[i];
        double decodeSeconds = clock.Elapsed.TotalSeconds;
        long total = encoded.Sum(e => (long)e.Length);
        Console.WriteLine($"decode: {mb / decodeSeconds:F1} MB/s ({decodeSeconds:F2} s), round trip {(lossless ? "exact" : "MISMATCH")}");
        Console.WriteLine($"chars per token: {(double)chars / total:F2}, bytes per token: {mb * 1e6 / total:F2}");
        return lossless ? 0 : 1;
    }
}
