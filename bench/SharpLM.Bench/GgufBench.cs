using System.Diagnostics;
using System.Globalization;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Model;

namespace SharpLM.Bench;

/// <summary>
/// `bench gguf [--model folder | --preset small|base] [--prompt N] [--new N] [--rounds N] [--timed N]`: exports the model as F32, F16 and
/// Q8_0 GGUF and times batch-1 greedy generation with a KV cache in SharpLM (fp32, bf16; decoding steps on one thread, the
/// default, and on all; q8) and in llama.cpp (LLamaSharp, F32, F16 and Q8_0 weights, its default f16 KV cache), both on
/// 2 threads, from the same prompt ids.
/// Each measurement is its own process (`bench gguf-one`: a warm-up generation, then the medians of --timed ones, default 3), as loading llama.cpp's
/// native library slows libtorch in the same process. A round runs every configuration once, in reverse order every other
/// round; the table gives medians over --rounds (default 5) and each ratio as the median of per-round ratios, so the two
/// figures of a ratio are taken close in time (this VM's memory speed drifts by tens of percent between minutes).
/// Prefill = the prompt's forward pass up to the first token's logits; decode = each further token. Without --model a
/// random-initialised preset (8k vocabulary) is used.
/// </summary>
static class GgufBench
{
    public const int Threads = 2;

    /// <summary>One engine setting: its table name, its `gguf-one` options, and the llama.cpp row with weights of its size.</summary>
    sealed record Configuration(string Name, string Options, string SameSize);

    sealed class ChildFailed(string message) : Exception(message);

    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        if (a.Has("repeats"))
        {
            Console.Error.WriteLine("bench gguf: --repeats is gone; --rounds N runs every configuration N times, each in its own process");
            return 2;
        }
        int promptLength = a.Int("prompt", 128), newTokens = a.Int("new", 128), rounds = a.Int("rounds", 5), timed = a.Int("timed", 3);
        var scratch = Directory.CreateTempSubdirectory("sharplm-bench-gguf-").FullName;
        try
        {
            var preset = a.Get("preset", "small");
            var folder = a.Has("model") ? a.Get("model", "") : BenchSetup.RandomSmallModel(Path.Combine(scratch, preset), preset: preset);
            var clock = Stopwatch.StartNew();
            var gguf = new[] { GgufTensorType.F32, GgufTensorType.F16, GgufTensorType.Q8_0 }.ToDictionary(type => type, type =>
            {
                string path = Path.Combine(scratch, $"model-{type.ToString().ToLowerInvariant()}.gguf");
                GgufExporter.Export(folder, path, type);
                return path;
            });
            var config = LlamaConfig.Load(Path.Combine(folder, ModelFolder.ConfigFile));
            Console.WriteLine($"model: {folder} ({config.ParameterCount() / 1e6:F1} M parameters, {config.NumHiddenLayers} x {config.HiddenSize}, " +
                              $"vocab {config.VocabSize})");
            Console.WriteLine($"GGUF exports: {string.Join(", ", gguf.Select(g => $"{g.Key} {new FileInfo(g.Value).Length / 1e6:F1} MB"))} " +
                              $"in {clock.Elapsed.TotalSeconds:F1} s");

            string model = $"--model \"{folder}\" --dtype";
            Configuration[] configurations =
            [
                new("SharpLM fp32", $"{model} fp32 --decode-threads 1", "llama.cpp F32"),
                new($"SharpLM fp32, decode on {Threads} threads", $"{model} fp32 --decode-threads 0", "llama.cpp F32"),
                new("SharpLM bf16", $"{model} bf16 --decode-threads 1", "llama.cpp F16"),
                new("SharpLM q8 (8-bit projections)", $"{model} q8 --decode-threads 1", "llama.cpp Q8_0"),
                new($"SharpLM q8, decode on {Threads} threads", $"{model} q8 --decode-threads 0", "llama.cpp Q8_0"),
                new("llama.cpp Q8_0", $"--gguf \"{gguf[GgufTensorType.Q8_0]}\"", "llama.cpp Q8_0"),
                new("llama.cpp F16", $"--gguf \"{gguf[GgufTensorType.F16]}\"", "llama.cpp F16"),
                new("llama.cpp F32", $"--gguf \"{gguf[GgufTensorType.F32]}\"", "llama.cpp F32"),
            ];
            Console.WriteLine($"prompt {promptLength} tokens, {newTokens} new tokens, greedy, batch 1, {Threads} threads; {rounds} rounds of " +
                              $"{configurations.Length} processes, one per configuration, in reverse order every other round, each the " +
                              $"medians of {timed} generations after a warm-up; " +
                              $"load before: {BenchSetup.LoadAverage()}");

            string shared = $"--vocab {config.VocabSize} --prompt {promptLength} --new {newTokens} --timed {timed}";
            var prefill = configurations.Select(_ => new double[rounds]).ToArray();
            var decode = configurations.Select(_ => new double[rounds]).ToArray();
            for (int round = 0; round < rounds; round++)
            {
                var order = Enumerable.Range(0, configurations.Length);
                // Neither side always first: a drift within a round favours each in turn.
                if (round % 2 == 1) order = order.Reverse();
                foreach (int i in order)
                    (prefill[i][round], decode[i][round]) = Measure(configurations[i], $"{configurations[i].Options} {shared}", round);
                Console.WriteLine($"round {round + 1}/{rounds} ({(round % 2 == 0 ? "SharpLM" : "llama.cpp")} first) done at " +
                                  $"{clock.Elapsed.TotalSeconds:F0} s");
            }
            Report(configurations, prefill, decode);
            Console.WriteLine($"load after: {BenchSetup.LoadAverage()}");
            return 0;
        }
        catch (ChildFailed failure)
        {
            Console.Error.WriteLine(failure.Message);
            return 1;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>Prefill and decode tokens/s of one `gguf-one` child; its stderr passes through.</summary>
    static (double Prefill, double Decode) Measure(Configuration configuration, string options, int round)
    {
        string line = BenchSetup.LastLineOfChild($"gguf-one {options}");
        var fields = line.Split(' ');
        if (fields is ["result", var p, var d] && p.StartsWith("prefill=") && d.StartsWith("decode=")
            && double.TryParse(p["prefill=".Length..], CultureInfo.InvariantCulture, out var prefill)
            && double.TryParse(d["decode=".Length..], CultureInfo.InvariantCulture, out var decode))
            return (prefill, decode);
        // LastLineOfChild's own text for a nonzero exit, or a run that printed no result.
        string why = line.StartsWith("| failed") ? line.Trim('|', ' ') : $"no result line (last line: {line})";
        throw new ChildFailed($"bench gguf: configuration \"{configuration.Name}\", round {round + 1}: {why}");
    }

    static void Report(Configuration[] configurations, double[][] prefill, double[][] decode)
    {
        int f32 = Array.FindIndex(configurations, c => c.Name == "llama.cpp F32");
        Console.WriteLine();
        Console.WriteLine($"{"engine",-36} {"prefill tok/s [min-max]",25} {"decode tok/s [min-max]",23} {"prefill vs F32",14} " +
                          $"{"decode vs F32",13} {"prefill vs same size",20} {"decode vs same size",19} " +
                          $"{"prefill >= same",15} {"decode >= same",14}");
        for (int i = 0; i < configurations.Length; i++)
        {
            int same = Array.FindIndex(configurations, c => c.Name == configurations[i].SameSize);
            string Faster(double[][] rates) =>
                same == i ? "-" : $"{rates[i].Zip(rates[same]).Count(pair => pair.First >= pair.Second)}/{rates[i].Length}";
            Console.WriteLine($"{configurations[i].Name,-36} {Spread(prefill[i], "N0"),25} {Spread(decode[i], "N1"),23} " +
                              $"{Ratio(prefill[i], prefill[f32]),14:F2} {Ratio(decode[i], decode[f32]),13:F2} " +
                              $"{Ratio(prefill[i], prefill[same]),20:F2} {Ratio(decode[i], decode[same]),19:F2} {Faster(prefill),15} " +
                              $"{Faster(decode),14}");
        }
        Console.WriteLine("tok/s: median [min-max] over the rounds. Ratios: median of the per-round ratios, each of two processes of " +
                          "the same round;");
        Console.WriteLine("same size = llama.cpp F32 for fp32, F16 for bf16, Q8_0 for q8; >= same = rounds in which the row was at least " +
                          "as fast.");
    }

    static string Spread(double[] rates, string format) =>
        $"{BenchSetup.Median(rates).ToString(format)} [{rates.Min().ToString(format)}-{rates.Max().ToString(format)}]";

    /// <summary>Median of the per-round ratios: each divides two figures taken in the same round.</summary>
    static double Ratio(double[] rates, double[] reference) => BenchSetup.Median(rates.Zip(reference, (rate, other) => rate / other));
}
