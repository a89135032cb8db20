using System.Diagnostics;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tokenization;

namespace SharpLM.Bench;

/// <summary>What several benchmarks need: a model to time when the user gives none, and the machine's load.</summary>
static class BenchSetup
{
    /// <summary>The "small" preset (or <paramref name="preset"/>, with an 8,192-token vocabulary) with random weights and a
    /// BPE tokenizer trained on a little text. The model keeps 8,192 rows (a GGUF export pads the vocabulary up to them)
    /// unless <paramref name="vocabularyOfTheTokenizer"/>, where it gets one row per token, so every generated id decodes to text.</summary>
    public static string RandomSmallModel(string folder, bool vocabularyOfTheTokenizer = false, string preset = "small")
    {
        string[] words = ["the", "model", "learns", "to", "predict", "next", "token", "from", "text", "and", "data", "language"];
        var random = new Random(2);
        var documents = Enumerable.Range(0, 200).Select(_ => string.Join(' ', Enumerable.Range(0, 30).Select(_ => words[random.Next(words.Length)])));
        var tokenizer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 1000 }).Train(documents);
        var config = ModelPresets.Get(preset);
        config.VocabSize = vocabularyOfTheTokenizer ? tokenizer.VocabSize : 8192;
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(1);
        ModelFolder.Save(folder, model, tokenizer);
        return folder;
    }

    /// <summary>The median of some measurements (the mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>Runs this benchmark program again with <paramref name="args"/> (as <paramref name="ranks"/> MPI ranks under
    /// mpiexec when more than one) and returns its last output line, or a table row saying it failed.</summary>
    public static string LastLineOfChild(string args, int ranks = 1)
    {
        var info = Child(args);
        if (ranks > 1) info = new ProcessStartInfo("mpiexec", $"-n {ranks} {info.FileName} {info.Arguments}");
        info.RedirectStandardOutput = true;
        info.UseShellExecute = false;
        using var process = Process.Start(info)!;
        var lines = process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        process.WaitForExit();
        return process.ExitCode == 0 && lines.Length > 0 ? lines[^1] : $"| failed: {ranks} x ({args}), exit {process.ExitCode} |";
    }

    /// <summary>How to run this benchmark program again with <paramref name="args"/>: as `dotnet bench.dll` or as its own
    /// apphost, as it was started.</summary>
    public static ProcessStartInfo Child(string args)
    {
        var bench = typeof(BenchSetup).Assembly.Location;
        return Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet"
            ? new ProcessStartInfo(Environment.ProcessPath!, $"\"{bench}\" {args}")
            : new ProcessStartInfo(Environment.ProcessPath!, args);
    }

    /// <summary>The 1, 5 and 15 minute load averages: a figure taken while they are well above 0 was taken under contention.</summary>
    public static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "n/a";

    /// <summary>Microseconds per call of <paramref name="action"/>: the best of <paramref name="rounds"/> rounds of
    /// <paramref name="calls"/> calls each, after <paramref name="warmUpCalls"/> untimed calls.</summary>
    public static double BestMicrosecondsPerCall(int calls, Action action, int rounds, int warmUpCalls)
    {
        for (int i = 0; i < warmUpCalls; i++) action();
        double best = double.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < calls; i++) action();
            best = Math.Min(best, clock.Elapsed.TotalMicroseconds / calls);
        }
        return best;
    }
}
