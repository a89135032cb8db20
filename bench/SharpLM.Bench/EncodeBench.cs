using System.Diagnostics;
using System.Text;
using SharpLM.Tokenization;

namespace SharpLM.Bench;

/// <summary>
/// `bench encode TOKENIZER [corpus-folder] [--mb N]`: loads any tokenizer.json SharpLM reads (byte-level or
/// SentencePiece-style) and times single-threaded encode and decode over the .txt files of a folder
/// (default data/corpus/train, at most N MB, default 4), first one call per document, then the
/// whole text as one string (where a SentencePiece file without pre-tokenizer is one long word).
/// </summary>
static class EncodeBench
{
    public static int Run(string[] args)
    {
        string? tokenizerPath = null, folder = null;
        double maxMb = 4;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--mb" && i + 1 < args.Length) maxMb = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else if (tokenizerPath is null) tokenizerPath = args[i];
            else folder = args[i];
        }
        folder ??= "data/corpus/train";
        if (tokenizerPath is null || !Directory.Exists(folder))
        {
            Console.Error.WriteLine("usage: bench encode TOKENIZER [corpus-folder] [--mb N] (corpus: data/fetch.sh)");
            return 2;
        }

        var clock = Stopwatch.StartNew();
        var tokenizer = TokenizerLoader.Load(tokenizerPath);
        Console.WriteLine($"{tokenizer.GetType().Name} from {tokenizerPath}: {tokenizer.VocabSize} ids, loaded in {clock.Elapsed.TotalSeconds:F2} s");

        var docs = new List<string>();
        double mb = 0;
        foreach (var file in Directory.EnumerateFiles(folder, "*.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (mb >= maxMb) break;
            string text = File.ReadAllText(file);
            docs.Add(text);
            mb += Encoding.UTF8.GetByteCount(text) / 1e6;
        }
        Console.WriteLine($"corpus: {folder}, {docs.Count} documents, {mb:F2} MB UTF-8");

        var encoded = new int[docs.Count][];
        foreach (var pass in new[] { "per document (cold cache)", "per document (warm cache)" })
        {
            clock.Restart();
            for (int i = 0; i < docs.Count; i++) encoded[i] = tokenizer.Encode(docs[i]);
            Report(pass, mb, encoded.Sum(e => (long)e.Length), clock.Elapsed.TotalSeconds);
        }

        string whole = string.Concat(docs);
        clock.Restart();
        int[] all = tokenizer.Encode(whole);
        Report("whole text as one string", mb, all.Length, clock.Elapsed.TotalSeconds);

        clock.Restart();
        bool lossless = true;
        for (int i = 0; i < docs.Count; i++) lossless &= tokenizer.Decode(encoded[i]) == docs[i];
        Console.WriteLine($"decode: {mb / clock.Elapsed.TotalSeconds:F1} MB/s, round trip {(lossless ? "exact" : "MISMATCH")}");
        return lossless ? 0 : 1;
    }

    static void Report(string pass, double mb, long tokens, double seconds) =>
        Console.WriteLine($"encode {pass}: {mb / seconds:F1} MB/s, {tokens / seconds / 1e6:F2} M tokens/s ({tokens:N0} tokens, {seconds:F2} s)");
}
