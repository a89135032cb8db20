using System.Diagnostics;
using System.Text;
using System.Text.Json;
using LLama;
using LLama.Common;
using LLama.Native;
using SharpLM.Generation;

namespace SharpLM.Bench;

/// <summary>
/// The concurrency table of `bench serve`: N streams start at once, each asking the same prompt for the same number of
/// greedy tokens; aggregate tokens/s (all streams' tokens over the wall time until the last one ends) and time to the
/// first token (p50, p95 over the streams). SharpLM over HTTP (streamed, continuous batching in the server), SharpLM
/// in-process (<see cref="ContinuousBatcher"/>), and llama.cpp's batched decoding of the same model as F32 GGUF
/// (one llama_decode per step carrying a token of every sequence; the prompts prefilled together first).
/// </summary>
static class ConcurrencyBench
{
    public record struct Row(double TokensPerSecond, double FirstP50Ms, double FirstP95Ms);

    public static void PrintHeader() =>
        Console.WriteLine($"{"engine",-30} {"streams",8} {"tokens/s (all)",15} {"first token p50 ms",19} {"p95 ms",9} {"vs llama.cpp",13}");

    public static void Print(string engine, int streams, Row row, Row reference) =>
        Console.WriteLine($"{engine,-30} {streams,8} {row.TokensPerSecond,15:N1} {row.FirstP50Ms,19:N1} {row.FirstP95Ms,9:N1} " +
                          $"{row.TokensPerSecond / reference.TokensPerSecond,13:F2}");

    static Row Summary(double wallSeconds, int tokens, IEnumerable<double> firstMs)
    {
        var sorted = firstMs.Order().ToArray();
        double Percentile(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
        return new Row(tokens / wallSeconds, Percentile(0.5), Percentile(0.95));
    }

    public static async Task<Row> OverHttp(HttpClient http, string prompt, int streams, int newTokens)
    {
        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, streams).Select(_ => Stream(http, prompt, newTokens, clock)));
        return Summary(clock.Elapsed.TotalSeconds, results.Sum(r => r.Tokens), results.Select(r => r.FirstMs));
    }

    static async Task<(double FirstMs, int Tokens)> Stream(HttpClient http, string prompt, int newTokens, Stopwatch clock)
    {
        var body = JsonSerializer.Serialize(new
        {
            prompt, max_tokens = newTokens, temperature = 0, ignore_eos = true, stream = true, stream_options = new { include_usage = true },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        return await ReadEvents(reader, clock);
    }

    /// <summary>A streamed completion's server-sent events: when the first text arrived, and the tokens its usage counts.</summary>
    public static async Task<(double FirstMs, int Tokens)> ReadEvents(StreamReader reader, Stopwatch clock)
    {
        double first = double.NaN;
        int tokens = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
            using var chunk = JsonDocument.Parse(line["data: ".Length..]);
            var root = chunk.RootElement;
            if (root.TryGetProperty("usage", out var usage)) tokens = usage.GetProperty("completion_tokens").GetInt32();
            else if (double.IsNaN(first) && root.GetProperty("choices")[0].GetProperty("text").GetString() is { Length: > 0 })
                first = clock.Elapsed.TotalMilliseconds;
        }
        return (first, tokens);
    }

    public static async Task<Row> InProcess(ContinuousBatcher batcher, int[] prompt, int streams, int newTokens)
    {
        var options = SamplingOptions.Greedy with { MaxNewTokens = newTokens, StopAtEos = false };
        var firsts = new double[streams];
        Array.Fill(firsts, double.NaN);
        var clock = Stopwatch.StartNew();
        var request = new GenerationRequest(prompt, options, new HashSet<int>());
        var results = await Task.WhenAll(Enumerable.Range(0, streams).Select(i => batcher.Submit(request,
            _ => { if (double.IsNaN(firsts[i])) firsts[i] = clock.Elapsed.TotalMilliseconds; })));
        return Summary(clock.Elapsed.TotalSeconds, results.Sum(r => r.CompletionTokens), firsts);
    }

    /// <summary>A long prompt arrives while <paramref name="streams"/> streams decode: how long its prefill takes, and the
    /// longest wait between two pieces of text of the running streams meanwhile, against their median wait.</summary>
    public static async Task<(double PrefillMs, double LongestGapMs, double MedianGapMs)> ArrivingPrompt(ContinuousBatcher batcher,
        int[] prompt, int[] longPrompt, int streams, int newTokens)
    {
        var options = SamplingOptions.Greedy with { MaxNewTokens = newTokens, StopAtEos = false };
        var stamps = Enumerable.Range(0, streams).Select(_ => new List<double>()).ToArray();
        var clock = Stopwatch.StartNew();
        var running = Enumerable.Range(0, streams).Select(i => batcher.Submit(new GenerationRequest(prompt, options, new HashSet<int>()),
            _ => { lock (stamps[i]) stamps[i].Add(clock.Elapsed.TotalMilliseconds); })).ToArray();
        while (stamps.Any(s => { lock (s) return s.Count < newTokens / 4; })) await Task.Delay(1);
        double arrived = clock.Elapsed.TotalMilliseconds, firstText = double.NaN;
        var late = batcher.Submit(new GenerationRequest(longPrompt, options with { MaxNewTokens = 1 }, new HashSet<int>()),
            _ => firstText = clock.Elapsed.TotalMilliseconds);
        await Task.WhenAll(running.Append(late));
        var gaps = stamps.SelectMany(s => s.Zip(s.Skip(1), (a, b) => (Start: a, Gap: b - a))).ToList();
        var during = gaps.Where(g => g.Start + g.Gap >= arrived && g.Start <= firstText).Select(g => g.Gap).DefaultIfEmpty(double.NaN);
        return (firstText - arrived, during.Max(), gaps.Select(g => g.Gap).Order().ElementAt(gaps.Count / 2));
    }

    public static Row LlamaCpp(string gguf, int[] prompt, int streams, int newTokens, int threads)
    {
        var parameters = new ModelParams(gguf)
        {
            ContextSize = (uint)(streams * (prompt.Length + newTokens)), SeqMax = (uint)streams,
            BatchSize = (uint)(streams * prompt.Length), UBatchSize = (uint)(streams * prompt.Length),
            GpuLayerCount = 0, Threads = threads, BatchThreads = threads,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var batch = new LLamaBatch();
        for (int s = 0; s < streams; s++)
            for (int i = 0; i < prompt.Length; i++) batch.Add(prompt[i], i, (LLamaSeqId)s, i == prompt.Length - 1);
        var clock = Stopwatch.StartNew();
        GgufRun.Decode(context, batch);
        var next = Enumerable.Range(0, streams)
            .Select(s => TokenSampler.ArgMax(context.NativeHandle.GetLogitsIth((s + 1) * prompt.Length - 1))).ToArray();
        double first = clock.Elapsed.TotalMilliseconds;
        for (int produced = 1; produced < newTokens; produced++)
        {
            batch.Clear();
            for (int s = 0; s < streams; s++) batch.Add(next[s], prompt.Length + produced - 1, (LLamaSeqId)s, true);
            GgufRun.Decode(context, batch);
            for (int s = 0; s < streams; s++) next[s] = TokenSampler.ArgMax(context.NativeHandle.GetLogitsIth(s));
        }
        return Summary(clock.Elapsed.TotalSeconds, streams * newTokens, Enumerable.Repeat(first, streams));
    }
}
