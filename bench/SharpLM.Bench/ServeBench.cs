using System.Diagnostics;
using System.Text;
using System.Text.Json;
using SharpLM.Chat;
using SharpLM.Cli.Serving;
using LLama.Native;
using SharpLM.Formats;
using SharpLM.Generation;
using SharpLM.Hub;

namespace SharpLM.Bench;

/// <summary>
/// `bench serve [--model folder] [--new N] [--clients N] [--repeats N]`: what `sharplm serve`'s HTTP layer costs.
/// Times the same greedy completion (N new tokens, end token ignored) in-process, over HTTP as one JSON answer,
/// over HTTP streamed (time to the first text), and for several clients at once; medians after a warm-up.
/// Then the concurrency table (<see cref="ConcurrencyBench"/>) at `--streams 1,2,4,8`.
/// Without --model a random-initialised "small" preset is used, with the tokenizer's vocabulary so every token is text.
/// </summary>
static class ServeBench
{
    const string Prompt = "the model learns to predict the next token from text and data";

    public static int Run(string[] args) => RunAsync(new BenchArgs(args)).GetAwaiter().GetResult();

    static async Task<int> RunAsync(BenchArgs args)
    {
        int newTokens = args.Int("new", 128), clients = args.Int("clients", 4), repeats = args.Int("repeats", 5);
        var scratch = Directory.CreateTempSubdirectory("sharplm-bench-serve-").FullName;
        try
        {
            var folder = args.Get("model", "") is { Length: > 0 } given
                ? given
                : BenchSetup.RandomSmallModel(Path.Combine(scratch, "small"), vocabularyOfTheTokenizer: true);
            using var loaded = PretrainedModel.Load(folder);
            var defaults = SamplingOptions.Greedy with { MaxNewTokens = newTokens, StopAtEos = false };
            using var served = new ServedModel(loaded, ChatTemplates.Default, defaults, "bench");
            await using var server = await ModelServer.StartAsync(served, new ServeOptions(Port: 0));
            using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };
            Console.WriteLine($"model: {folder}; prompt \"{Prompt}\", {newTokens} new tokens, greedy; {repeats} runs after a warm-up; " +
                              $"load before: {BenchSetup.LoadAverage()}");

            var prompt = loaded.EncodePrompt(Prompt);
            var direct = await Median(repeats, () => Task.FromResult(InProcess(loaded, prompt, defaults)));
            var whole = await Median(repeats, () => OverHttp(http, newTokens, stream: false));
            var streamed = await Median(repeats, () => OverHttp(http, newTokens, stream: true));
            var clock = Stopwatch.StartNew();
            var together = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => OverHttp(http, newTokens, stream: false)));
            double aggregate = together.Sum(r => r.Tokens) / clock.Elapsed.TotalSeconds;

            Console.WriteLine();
            Console.WriteLine($"{"mode",-34} {"first text ms",14} {"tokens/s",9} {"vs in-process",14}");
            Row("in-process (TokenGenerator)", direct.FirstMs, direct.TokensPerSecond, direct.TokensPerSecond);
            Row("HTTP, one JSON answer", double.NaN, whole.TokensPerSecond, direct.TokensPerSecond);
            Row("HTTP, streamed (server-sent events)", streamed.FirstMs, streamed.TokensPerSecond, direct.TokensPerSecond);
            Row($"HTTP, {clients} clients at once (all tokens)", double.NaN, aggregate, direct.TokensPerSecond);
            Console.WriteLine($"{clients} clients at once: each answer took {together.Min(r => r.TotalMs) / 1000:F2} to " +
                              $"{together.Max(r => r.TotalMs) / 1000:F2} s");

            Console.WriteLine();
            var gguf = Path.Combine(scratch, "model-f32.gguf");
            GgufExporter.Export(folder, gguf, GgufTensorType.F32);
            NativeLogConfig.llama_log_set((_, _) => { }); // llama.cpp logs every load at length
            using var batcher = new ContinuousBatcher(loaded.Model, loaded.Tokenizer);
            await ConcurrencyBench.InProcess(batcher, prompt, 2, 8); // warm-up
            ConcurrencyBench.PrintHeader();
            foreach (var streams in args.Get("streams", "1,2,4,8").Split(',').Select(int.Parse))
            {
                var cpp = ConcurrencyBench.LlamaCpp(gguf, prompt, streams, newTokens, TorchSharp.torch.get_num_threads());
                var overHttp = await ConcurrencyBench.OverHttp(http, Prompt, streams, newTokens);
                ConcurrencyBench.Print("SharpLM serve (HTTP, streamed)", streams, overHttp, cpp);
                ConcurrencyBench.Print("SharpLM in-process", streams, await ConcurrencyBench.InProcess(batcher, prompt, streams, newTokens), cpp);
                ConcurrencyBench.Print("llama.cpp batched (F32 GGUF)", streams, cpp, cpp);
            }
            Console.WriteLine();
            var random = new Random(3);
            var longPrompt = Enumerable.Range(0, Math.Min(768, served.ContextLength - newTokens))
                .Select(_ => random.Next(3, loaded.Tokenizer.VocabSize)).ToArray();
            foreach (var chunk in new[] { batcher.SlotCapacity, 256, 64 })
            {
                using var chunked = new ContinuousBatcher(loaded.Model, loaded.Tokenizer, new BatchingOptions { PrefillChunk = (int)chunk });
                var (prefill, longest, median) = await ConcurrencyBench.ArrivingPrompt(chunked, prompt, longPrompt, 4, newTokens);
                Console.WriteLine($"a {longPrompt.Length}-token prompt arrives while 4 streams decode, prefilled in chunks of {chunk}: " +
                                  $"its first token after {prefill:N0} ms; the streams' longest wait between tokens meanwhile {longest:N1} ms " +
                                  $"(median {median:N1} ms)");
            }
            Console.WriteLine($"load after: {BenchSetup.LoadAverage()}");
            return 0;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    record struct Timing(double FirstMs, double TotalMs, int Tokens)
    {
        public readonly double TokensPerSecond => Tokens / (TotalMs / 1000);
    }

    static void Row(string mode, double firstMs, double tokensPerSecond, double reference) =>
        Console.WriteLine($"{mode,-34} {(double.IsNaN(firstMs) ? "-" : firstMs.ToString("N1")),14} {tokensPerSecond,9:N1} " +
                          $"{tokensPerSecond / reference,14:F2}");

    /// <summary>Median of first-text time and of tokens/s over <paramref name="repeats"/> runs after one warm-up run.</summary>
    static async Task<(double FirstMs, double TokensPerSecond)> Median(int repeats, Func<Task<Timing>> run)
    {
        await run();
        var results = new List<Timing>();
        for (int i = 0; i < repeats; i++) results.Add(await run());
        static double Mid(IEnumerable<double> xs) => xs.Order().ElementAt(xs.Count() / 2);
        return (Mid(results.Select(r => r.FirstMs)), Mid(results.Select(r => r.TokensPerSecond)));
    }

    static Timing InProcess(PretrainedModel loaded, int[] prompt, SamplingOptions options)
    {
        var generator = new TokenGenerator(loaded.Model);
        var clock = Stopwatch.StartNew();
        double first = double.NaN;
        var result = generator.GenerateText(new GenerationRequest(prompt, options, loaded.StopTokens()), loaded.Tokenizer, _ =>
        {
            if (double.IsNaN(first)) first = clock.Elapsed.TotalMilliseconds;
        });
        return new Timing(first, clock.Elapsed.TotalMilliseconds, result.CompletionTokens);
    }

    /// <summary>One request as a client sees it: from sending to the first text (streamed) and to the last byte.</summary>
    static async Task<Timing> OverHttp(HttpClient http, int newTokens, bool stream)
    {
        var body = JsonSerializer.Serialize(new
        {
            prompt = Prompt, max_tokens = newTokens, temperature = 0, ignore_eos = true, stream, stream_options = new { include_usage = true },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        var clock = Stopwatch.StartNew();
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        if (stream)
        {
            var (first, streamed) = await ConcurrencyBench.ReadEvents(reader, clock);
            return new Timing(first, clock.Elapsed.TotalMilliseconds, streamed);
        }
        using var whole = JsonDocument.Parse(await reader.ReadToEndAsync());
        int tokens = whole.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        return new Timing(double.NaN, clock.Elapsed.TotalMilliseconds, tokens);
    }
}
