using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;
using SharpLM.Formats;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Bench;

/// <summary>
/// `bench gguf [--model folder | --preset small|base] [--prompt N] [--new N] [--repeats N]`: exports the model as F32 GGUF and times, in one
/// run, batch-1 greedy generation with a KV cache in SharpLM (fp32, bf16; decoding steps on one thread, the default, and
/// on all; q8) and in llama.cpp (LLamaSharp, F32, F16 and Q8_0 weights, its default f16 KV cache), both on 2 threads, from the
/// same prompt ids.
/// Prefill = the prompt's forward pass up to the first token's logits; decode = each further token. Without --model a
/// random-initialised preset (8k vocabulary) is used.
/// </summary>
static class GgufBench
{
    const int Threads = 2;

    public static int Run(string[] args)
    {
        string? folder = Option(args, "--model");
        int promptLength = int.Parse(Option(args, "--prompt") ?? "128");
        int newTokens = int.Parse(Option(args, "--new") ?? "128");
        int repeats = int.Parse(Option(args, "--repeats") ?? "3");
        torch.set_num_threads(Threads);

        var scratch = Directory.CreateTempSubdirectory("sharplm-bench-gguf-").FullName;
        try
        {
            var preset = Option(args, "--preset") ?? "small";
            folder ??= BenchSetup.RandomSmallModel(Path.Combine(scratch, preset), preset: preset);
            string gguf = Path.Combine(scratch, "model-f32.gguf");
            var clock = Stopwatch.StartNew();
            GgufExporter.Export(folder, gguf, GgufTensorType.F32);
            var config = LlamaConfig.Load(Path.Combine(folder, ModelFolder.ConfigFile));
            Console.WriteLine($"model: {folder} ({config.ParameterCount() / 1e6:F1} M parameters, {config.NumHiddenLayers} x {config.HiddenSize}, " +
                              $"vocab {config.VocabSize})");
            Console.WriteLine($"GGUF F32 export: {new FileInfo(gguf).Length / 1e6:F1} MB in {clock.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"prompt {promptLength} tokens, {newTokens} new tokens, greedy, batch 1, {Threads} threads, best of {repeats}; " +
                              $"load before: {BenchSetup.LoadAverage()}");

            var random = new Random(1);
            var prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(config.VocabSize)).ToArray();
            var fp32 = Best(repeats, () => SharpLm(folder, ScalarType.Float32, prompt, newTokens));
            var fp32AllThreads = Best(repeats, () => SharpLm(folder, ScalarType.Float32, prompt, newTokens, decodeThreads: 0));
            var bf16 = Best(repeats, () => SharpLm(folder, ScalarType.BFloat16, prompt, newTokens));
            var q8 = Best(repeats, () => SharpLm(folder, ScalarType.Float32, prompt, newTokens, quantize: true));
            var q8BothThreads = Best(repeats, () => SharpLm(folder, ScalarType.Float32, prompt, newTokens, decodeThreads: 0, quantize: true));
            // Only now: loading llama.cpp's native library slows libtorch's decoding in the same process (measured: fp32 235
            // against 350 tokens/s when it was loaded first).
            NativeLogConfig.llama_log_set((level, message) => { }); // llama.cpp logs every load at length
            string ggufQ8 = Path.Combine(scratch, "model-q8_0.gguf");
            GgufExporter.Export(folder, ggufQ8, GgufTensorType.Q8_0);
            var cppQ8 = Best(repeats, () => LlamaCpp(ggufQ8, prompt, newTokens));
            string ggufF16 = Path.Combine(scratch, "model-f16.gguf");
            GgufExporter.Export(folder, ggufF16, GgufTensorType.F16);
            var cppF16 = Best(repeats, () => LlamaCpp(ggufF16, prompt, newTokens));
            var cpp = Best(repeats, () => LlamaCpp(gguf, prompt, newTokens));
            // Each SharpLM row beside llama.cpp with weights of the same size: F32, F16 (for bf16) and Q8_0.
            (string Engine, double Prefill, double Decode, (double Prefill, double Decode) Same)[] rows =
            [
                ("SharpLM fp32", fp32.Prefill, fp32.Decode, cpp),
                ($"SharpLM fp32, decode on {Threads} threads", fp32AllThreads.Prefill, fp32AllThreads.Decode, cpp),
                ("SharpLM bf16", bf16.Prefill, bf16.Decode, cppF16),
                ("SharpLM q8 (8-bit projections)", q8.Prefill, q8.Decode, cppQ8),
                ($"SharpLM q8, decode on {Threads} threads", q8BothThreads.Prefill, q8BothThreads.Decode, cppQ8),
                ("llama.cpp Q8_0", cppQ8.Prefill, cppQ8.Decode, cppQ8),
                ("llama.cpp F16", cppF16.Prefill, cppF16.Decode, cppF16),
                ("llama.cpp F32", cpp.Prefill, cpp.Decode, cpp),
            ];

            var reference = rows[^1];
            Console.WriteLine();
            Console.WriteLine($"{"engine",-36} {"prefill tok/s",14} {"decode tok/s",13} {"prefill vs llama.cpp F32",25} " +
                              $"{"decode vs llama.cpp F32",24} {"prefill vs same size",21} {"decode vs same size",20}");
            foreach (var (engine, prefill, decode, same) in rows)
                Console.WriteLine($"{engine,-36} {prefill,14:N0} {decode,13:N1} " +
                                  $"{prefill / reference.Prefill,25:F2} {decode / reference.Decode,24:F2} " +
                                  $"{prefill / same.Prefill,21:F2} {decode / same.Decode,20:F2}");
            Console.WriteLine($"load after: {BenchSetup.LoadAverage()}");
            return 0;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>Best (highest) prefill and decode rates over <paramref name="repeats"/> runs after one warm-up run.</summary>
    static (double Prefill, double Decode) Best(int repeats, Func<(double Prefill, double Decode)> run)
    {
        run();
        var results = Enumerable.Range(0, repeats).Select(_ => run()).ToList();
        return (results.Max(r => r.Prefill), results.Max(r => r.Decode));
    }

    static (double Prefill, double Decode) SharpLm(string folder, ScalarType dtype, int[] prompt, int newTokens, int decodeThreads = 1,
        bool quantize = false)
    {
        using var model = ModelFolder.Load(folder, dtype);
        if (quantize) model.QuantizeForInference();
        var generator = new TokenGenerator(model) { DecodeThreads = decodeThreads };
        var options = SamplingOptions.Greedy with { MaxNewTokens = newTokens, StopAtEos = false };
        var clock = Stopwatch.StartNew();
        double firstToken = 0;
        int produced = 0;
        // The first token arrives after the prompt's forward pass; every later one costs one decode step.
        foreach (var _ in generator.Generate(prompt, options, new HashSet<int>()))
            if (produced++ == 0) firstToken = clock.Elapsed.TotalSeconds;
        double total = clock.Elapsed.TotalSeconds;
        return (prompt.Length / firstToken, (produced - 1) / (total - firstToken));
    }

    static (double Prefill, double Decode) LlamaCpp(string gguf, int[] prompt, int newTokens)
    {
        var parameters = new ModelParams(gguf)
        {
            ContextSize = (uint)(prompt.Length + newTokens), BatchSize = (uint)prompt.Length, UBatchSize = (uint)prompt.Length,
            GpuLayerCount = 0, Threads = Threads, BatchThreads = Threads,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Length; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
        var clock = Stopwatch.StartNew();
        Decode(context, batch);
        int next = TokenSampler.ArgMax(context.NativeHandle.GetLogitsIth(batch.TokenCount - 1));
        double firstToken = clock.Elapsed.TotalSeconds;
        for (int produced = 1; produced < newTokens; produced++)
        {
            batch.Clear();
            batch.Add(next, prompt.Length + produced - 1, LLamaSeqId.Zero, true);
            Decode(context, batch);
            next = TokenSampler.ArgMax(context.NativeHandle.GetLogitsIth(0));
        }
        double total = clock.Elapsed.TotalSeconds;
        return (prompt.Length / firstToken, (newTokens - 1) / (total - firstToken));
    }

    /// <summary>One llama_decode; a failure throws.</summary>
    public static void Decode(LLamaContext context, LLamaBatch batch)
    {
        var result = context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
    }

    static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
