using System.Diagnostics;
using System.Globalization;
using LLama;
using LLama.Common;
using LLama.Native;
using SharpLM.Generation;
using SharpLM.Hub;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Bench;

/// <summary>
/// `bench gguf-one`: internal to `bench gguf`, which starts it in a child process for each measurement. Loads one engine
/// configuration, SharpLM (`--model folder --dtype fp32|bf16|q8 --decode-threads N`, 0 = all threads) or llama.cpp
/// (`--gguf file`), on <see cref="GgufBench.Threads"/> threads; generates once as a warm-up, then `--timed N` times (default
/// 3), greedy, batch 1, `--new N` tokens after `--prompt N` random ids below `--vocab V` (seed 1, so every child has the
/// same prompt); prints one line, `result prefill=TOK/S decode=TOK/S` (invariant culture), each the median of the timed
/// generations: a prompt's single forward pass varies by a third from one generation to the next on a busy VM.
/// </summary>
static class GgufRun
{
    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        int promptLength = a.Int("prompt", 128), newTokens = a.Int("new", 128), vocab = a.Int("vocab", 0), timed = a.Int("timed", 3);
        if (vocab <= 0) throw new ArgumentException("gguf-one needs --vocab V (the model's vocabulary size)");
        var random = new Random(1);
        var prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(vocab)).ToArray();
        var (prefill, decode) = a.Has("gguf")
            ? LlamaCpp(a.Get("gguf", ""), prompt, newTokens, timed)
            : SharpLm(a.Get("model", ""), a.Get("dtype", "fp32"), a.Int("decode-threads", 1), prompt, newTokens, timed);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"result prefill={prefill:F2} decode={decode:F2}"));
        return 0;
    }

    static (double Prefill, double Decode) SharpLm(string folder, string dtype, int decodeThreads, int[] prompt, int newTokens, int timed)
    {
        torch.set_num_threads(GgufBench.Threads);
        var weights = dtype switch
        {
            "fp32" or "q8" => ScalarType.Float32,
            "bf16" => ScalarType.BFloat16,
            _ => throw new ArgumentException($"--dtype {dtype}: fp32, bf16 or q8"),
        };
        using var model = ModelFolder.Load(folder, weights);
        if (dtype == "q8") model.QuantizeForInference();
        var generator = new TokenGenerator(model) { DecodeThreads = decodeThreads };
        var options = SamplingOptions.Greedy with { MaxNewTokens = newTokens, StopAtEos = false };
        Time(generator, prompt, options); // warm-up
        return Medians(timed, () => Time(generator, prompt, options));
    }

    /// <summary>The medians of prefill and of decode speed over <paramref name="timed"/> generations.</summary>
    static (double Prefill, double Decode) Medians(int timed, Func<(double Prefill, double Decode)> generate)
    {
        var runs = Enumerable.Range(0, Math.Max(1, timed)).Select(_ => generate()).ToList();
        return (BenchSetup.Median(runs.Select(r => r.Prefill)), BenchSetup.Median(runs.Select(r => r.Decode)));
    }

    static (double Prefill, double Decode) Time(TokenGenerator generator, int[] prompt, SamplingOptions options)
    {
        var clock = Stopwatch.StartNew();
        double firstToken = 0;
        int produced = 0;
        // The first token arrives after the prompt's forward pass; every later one costs one decode step.
        foreach (var _ in generator.Generate(prompt, options, new HashSet<int>()))
            if (produced++ == 0) firstToken = clock.Elapsed.TotalSeconds;
        double total = clock.Elapsed.TotalSeconds;
        return (prompt.Length / firstToken, (produced - 1) / (total - firstToken));
    }

    static (double Prefill, double Decode) LlamaCpp(string gguf, int[] prompt, int newTokens, int timed)
    {
        NativeLogConfig.llama_log_set((level, message) => { }); // llama.cpp logs every load at length
        var parameters = new ModelParams(gguf)
        {
            ContextSize = (uint)(prompt.Length + newTokens), BatchSize = (uint)prompt.Length, UBatchSize = (uint)prompt.Length,
            GpuLayerCount = 0, Threads = GgufBench.Threads, BatchThreads = GgufBench.Threads,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        Time(weights, parameters, prompt, newTokens); // warm-up
        return Medians(timed, () => Time(weights, parameters, prompt, newTokens));
    }

    /// <summary>One generation in a fresh context (an empty KV cache) over the loaded weights.</summary>
    static (double Prefill, double Decode) Time(LLamaWeights weights, ModelParams parameters, int[] prompt, int newTokens)
    {
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
}
