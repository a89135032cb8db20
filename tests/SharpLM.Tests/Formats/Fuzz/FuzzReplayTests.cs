using System.Text;
using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;
using SharpLM.Adapters;
using SharpLM.Data;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Tests.Tokenization;
using SharpLM.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace SharpLM.Tests.Formats.Fuzz;

/// <summary>
/// Replays deterministic mutants (see <see cref="Mutants"/>) of a valid input through each reader of untrusted files.
/// Every mutant must be either accepted (and then usable) or refused with a <see cref="SharpLMException"/> that names
/// the file, within <see cref="TimeBound"/> and <see cref="MemoryBound"/>; any other exception, a hang, or memory
/// growing past the bound (an allocation sized by a hostile field) fails the test with the mutant's kind.
/// The counts per surface are printed to the test output (and summarised in README.md).
/// </summary>
public sealed class FuzzReplayTests(ITestOutputHelper output)
{
    /// <summary>Long enough that only a hang exceeds it: a mutant reads in milliseconds alone, but the suite runs test classes
    /// in parallel on two cores, and a training test beside this one (its products on both cores) slowed a read past 5 s.</summary>
    static readonly TimeSpan TimeBound = TimeSpan.FromSeconds(20);

    /// <summary>Growth of the process's working set over the replay's start allowed while a mutant is read. Generous,
    /// since other tests run beside this one; an absurd size honoured would take several GB.</summary>
    const long MemoryBound = 2L << 30;
    const int Seed = 20260;

    sealed record Outcome(string Surface, int Tried, int Accepted, int Refused, List<string> Failures);

    /// <summary>Writes each mutant to <paramref name="file"/> and runs <paramref name="read"/>.</summary>
    Outcome Replay(string surface, string file, IEnumerable<(string Kind, byte[] Bytes)> mutants, Action read, Action? restore = null)
    {
        int tried = 0, accepted = 0, refused = 0;
        var failures = new List<string>();
        string folder = Path.GetDirectoryName(file)!;
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        // One read of the still valid file first: the reader's first use (JIT, library set-up) is not a mutant's time.
        try { read(); } catch (SharpLMException) { }
        long baseline = process.WorkingSet64;
        foreach (var (kind, bytes) in mutants)
        {
            tried++;
            File.WriteAllBytes(file, bytes);
            var run = Task.Run(read);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            long peak = 0;
            while (!run.IsCompleted && clock.Elapsed < TimeBound)
            {
                Task.WhenAny(run, Task.Delay(10)).Wait(); // does not throw when the read fails
                process.Refresh();
                peak = Math.Max(peak, process.WorkingSet64);
            }
            bool finished = run.IsCompleted;
            if (peak - baseline > MemoryBound)
                failures.Add($"{surface} #{tried} ({kind}): the working set grew by {(peak - baseline) / 1e9:F1} GB");
            if (!finished)
                failures.Add($"{surface} #{tried} ({kind}): no answer within {TimeBound.TotalSeconds} s");
            else if (run.Exception?.InnerException is { } e)
            {
                if (e is SharpLMException && (e.Message.Contains(Path.GetFileName(file)) || e.Message.Contains(folder))) refused++;
                else failures.Add($"{surface} #{tried} ({kind}): {e.GetType().Name}: {e.Message}");
            }
            else accepted++;
            restore?.Invoke();
        }
        output.WriteLine($"{surface}: {tried} tried, {accepted} accepted, {refused} refused");
        return new Outcome(surface, tried, accepted, refused, failures);
    }

    static IEnumerable<(string, byte[])> JsonMutants(byte[] valid, int seed, int count) =>
        Mutants.Json(Encoding.UTF8.GetString(valid), seed, count).Concat(Mutants.Bytes(valid, seed + 1, count / 2));

    [Fact]
    public void EveryMutantIsAcceptedOrRefusedNamingTheFile()
    {
        using var dir = new TempDirectory();
        var outcomes = new List<Outcome>();

        // A tiny model folder with a tokenizer: config.json, model.safetensors, tokenizer.json, generation_config.json.
        var tokenizer = TestCorpus.Tokenizer;
        string folder = dir.File("model");
        using (var model = TestModels.Tiny(vocab: tokenizer.VocabSize, seed: 3)) ModelFolder.Save(folder, model, tokenizer);

        string config = Path.Combine(folder, ModelFolder.ConfigFile);
        var validConfig = File.ReadAllBytes(config);
        outcomes.Add(Replay("config.json", config, JsonMutants(validConfig, Seed, 80), () => ModelFolder.Load(folder).Dispose()));
        File.WriteAllBytes(config, validConfig);

        string weights = Path.Combine(folder, ModelFolder.WeightsFile);
        var validWeights = File.ReadAllBytes(weights);
        outcomes.Add(Replay("safetensors", weights, SafetensorsMutants(validWeights, Seed, 80), () => ModelFolder.Load(folder).Dispose()));
        File.WriteAllBytes(weights, validWeights);

        string tokenizerFile = Path.Combine(folder, ModelFolder.TokenizerFile);
        var validTokenizer = File.ReadAllBytes(tokenizerFile);
        outcomes.Add(Replay("tokenizer.json", tokenizerFile, JsonMutants(validTokenizer, Seed, 60), () =>
        {
            var loaded = TokenizerLoader.Load(folder);
            loaded.Decode(loaded.Encode("the model learns"));
        }));
        File.WriteAllBytes(tokenizerFile, validTokenizer);

        string tokenizerConfig = Path.Combine(folder, TokenizerConfigFile.FileName);
        var validTokenizerConfig = Encoding.UTF8.GetBytes(
            """{"bos_token": "<|endoftext|>", "eos_token": {"content": "<|endoftext|>"}, "pad_token": null, "model_max_length": 64}""");
        outcomes.Add(Replay("tokenizer_config.json", tokenizerConfig, JsonMutants(validTokenizerConfig, Seed, 40),
            () => TokenizerLoader.Load(folder)));
        File.Delete(tokenizerConfig);

        string generation = Path.Combine(folder, ModelFolder.GenerationConfigFile);
        var validGeneration = File.ReadAllBytes(generation);
        outcomes.Add(Replay("generation_config.json", generation, JsonMutants(validGeneration, Seed, 60),
            () => GenerationConfig.Load(generation).ToSamplingOptions().BuildProcessors()));

        outcomes.Add(AdapterConfig(dir, folder));
        outcomes.Add(InstructionJsonl(dir));
        outcomes.Add(Parquet(dir));
        outcomes.Add(Llama2c(dir));

        output.WriteLine($"total: {outcomes.Sum(o => o.Tried)} tried, {outcomes.Sum(o => o.Accepted)} accepted, " +
                         $"{outcomes.Sum(o => o.Refused)} refused");
        var failures = outcomes.SelectMany(o => o.Failures).ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(30)));
    }

    /// <summary>The header's JSON mutated (with the length prefix fixed up) and the whole file's bytes damaged.</summary>
    static IEnumerable<(string, byte[])> SafetensorsMutants(byte[] valid, int seed, int count)
    {
        int headerLength = (int)BitConverter.ToUInt64(valid, 0);
        var data = valid[(8 + headerLength)..];
        string header = Encoding.UTF8.GetString(valid, 8, headerLength).TrimEnd(' ');
        foreach (var (kind, json) in Mutants.Json(header, seed, count))
            yield return ("header " + kind, SafetensorsBytes.Build(Encoding.UTF8.GetString(json), data));
        foreach (var mutant in Mutants.Bytes(valid, seed + 1, count / 2)) yield return mutant;
    }

    Outcome AdapterConfig(TempDirectory dir, string baseFolder)
    {
        using var model = ModelFolder.Load(baseFolder);
        string adapter = dir.File("adapter");
        var options = new LoraOptions { Rank = 2 };
        Lora.Apply(model, options, seed: 1);
        AdapterFolder.Save(adapter, model, options, baseFolder);
        Lora.Remove(model);
        string path = Path.Combine(adapter, AdapterFolder.ConfigFile);
        return Replay("adapter_config.json", path, JsonMutants(File.ReadAllBytes(path), Seed, 60), () =>
        {
            try
            {
                AdapterFolder.Load(adapter, model);
            }
            finally
            {
                if (Lora.Adapters(model).Any()) Lora.Remove(model);
            }
        });
    }

    Outcome InstructionJsonl(TempDirectory dir)
    {
        string path = dir.File("data/train.jsonl");
        Directory.CreateDirectory(dir.File("data"));
        var lines = new[]
        {
            """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, """ +
            """{"role": "assistant", "content": "Hello."}]}""",
            """{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}""",
        };
        var mutants = new List<(string, byte[])>();
        var random = new Random(Seed);
        foreach (var (kind, line) in Mutants.Json(lines[0], Seed, 60))
            mutants.Add(("line " + kind, Encoding.UTF8.GetBytes(lines[1] + "\n" + Encoding.UTF8.GetString(line) + "\n" + lines[1] + "\n")));
        mutants.AddRange(Mutants.Bytes(Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"), Seed + 1, 40));
        bool skip = false;
        return Replay("instruction JSONL", path, mutants, () =>
        {
            // Alternately strict and skipping invalid records: both must end cleanly.
            skip = !skip;
            new InstructionReader([path], new InstructionReaderOptions { SkipInvalid = skip }).Read().ToList();
        });
    }

    Outcome Parquet(TempDirectory dir)
    {
        string path = dir.File("parquet/train.parquet");
        Directory.CreateDirectory(dir.File("parquet"));
        var prompt = new DataField<string>("prompt");
        var completion = new DataField<string>("completion");
        WriteParquet(path, new ParquetSchema(prompt, completion), prompt, completion);
        var valid = File.ReadAllBytes(path);
        return Replay("Parquet", path, Mutants.Bytes(valid, Seed, 60), () =>
        {
            new InstructionReader(path).Read().ToList();
            new CorpusReader([path], new CorpusOptions { ParquetColumn = "prompt" }).ReadDocuments().ToList();
        });
    }

    static void WriteParquet(string path, ParquetSchema schema, DataField<string> prompt, DataField<string> completion) =>
        Task.Run(async () =>
        {
            using var stream = File.Create(path);
            await using var writer = await ParquetWriter.CreateAsync(schema, stream);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(prompt, new[] { "What is 2+2?", "Name a colour." });
            await group.WriteAsync(completion, new[] { "4", "Blue." });
        }).GetAwaiter().GetResult();

    Outcome Llama2c(TempDirectory dir)
    {
        string path = dir.File("llama2c/stories.bin");
        Directory.CreateDirectory(dir.File("llama2c"));
        var valid = File.ReadAllBytes(Fixtures.Path("stories260K", "stories260K.bin"));
        var random = new Random(Seed);
        var mutants = new List<(string, byte[])>();
        int[] extremes = [0, -1, 1, 3, int.MaxValue, int.MinValue, 1 << 20, 4096, 65536, -512];
        for (int i = 0; i < 50; i++)
        {
            var bytes = valid.ToArray();
            int field = random.Next(7);
            BitConverter.GetBytes(extremes[random.Next(extremes.Length)]).CopyTo(bytes, field * 4);
            mutants.Add(($"header field {field}", bytes));
        }
        // Only the header and the file's length matter to the reader; damage there (the weights are any floats).
        mutants.AddRange(Mutants.Bytes(valid[..64], Seed + 1, 20).Select(m => (m.Kind, m.Bytes.Concat(valid[64..]).ToArray())));
        mutants.AddRange(Enumerable.Range(0, 10).Select(i => ("truncated", valid[..random.Next(valid.Length)])));
        return Replay("llama2.c checkpoint", path, mutants, () => Llama2cCheckpoint.Load(path).Dispose());
    }
}
