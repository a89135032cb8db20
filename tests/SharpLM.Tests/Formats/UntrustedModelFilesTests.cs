using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;
using SharpLM.Data;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Formats;

/// <summary>Model folders, checkpoints and data files that would make SharpLM allocate without bound, hang, or read
/// integers as weights are refused before anything is allocated or opened, naming the file and the field.</summary>
public class UntrustedModelFilesTests
{
    static string SaveTiny(TempDirectory dir, string name = "model")
    {
        using var model = TestModels.Tiny();
        string folder = dir.File(name);
        ModelFolder.Save(folder, model, null);
        return folder;
    }

    static void EditConfig(string folder, string field, JsonNode value)
    {
        string path = Path.Combine(folder, ModelFolder.ConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json[field] = value;
        File.WriteAllText(path, json.ToJsonString());
    }

    [Theory]
    [InlineData("num_hidden_layers", 1_000_000, "num_hidden_layers is 1000000, but the weights hold 2 layers")]
    [InlineData("head_dim", 1_000_000, "head_dim (1000000)")]
    [InlineData("vocab_size", int.MaxValue, "vocab_size (2147483647)")]
    [InlineData("intermediate_size", 1_000_000_000, "intermediate_size (1000000000)")]
    [InlineData("max_position_embeddings", int.MaxValue, "max_position_embeddings 2147483647")]
    public void AbsurdSizesInConfigJsonAreRefusedBeforeAllocating(string field, int value, string message)
    {
        using var dir = new TempDirectory();
        string folder = SaveTiny(dir);
        EditConfig(folder, field, value);
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<SharpLMException>(() => ModelFolder.Load(folder));
        Assert.Contains(Path.Combine(folder, ModelFolder.ConfigFile), e.Message);
        Assert.Contains(message, e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact]
    public void AnIntegerTensorIsNotReadAsWeights()
    {
        using var dir = new TempDirectory();
        string folder = SaveTiny(dir);
        string weights = Path.Combine(folder, ModelFolder.WeightsFile);
        var bytes = File.ReadAllBytes(weights);
        string text = Encoding.Latin1.GetString(bytes);
        int at = text.IndexOf("\"model.norm.weight\":{\"dtype\":\"F32\"", StringComparison.Ordinal);
        Assert.True(at > 0);
        Encoding.ASCII.GetBytes("I32").CopyTo(bytes, at + "\"model.norm.weight\":{\"dtype\":\"".Length);
        File.WriteAllBytes(weights, bytes);
        var e = Assert.Throws<SharpLMException>(() => ModelFolder.Load(folder));
        Assert.Contains("model.norm.weight is stored as I32", e.Message);
    }

    [Fact]
    public void OversizedSafetensorsMetadataIsRefused()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("big.safetensors",
            SafetensorsBytes.Build("{\"__metadata__\": {\"note\": \"" + new string('x', 1_100_000) + "\"}}", []));
        var e = Assert.Throws<SharpLMException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("__metadata__", e.Message);
    }

    /// <summary>Runs <paramref name="read"/> with a time bound: a reader that opened a FIFO would block forever.</summary>
    static SharpLMException FailsQuickly(Action read)
    {
        var task = Task.Run(read);
        Assert.True(Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(10))).GetAwaiter().GetResult() == task, "the reader blocked");
        var e = Assert.IsType<SharpLMException>(Assert.Single(task.Exception!.InnerExceptions));
        return e;
    }

    static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", path);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    [Fact]
    public void FifosAndFoldersInPlaceOfFilesAreRefusedWithoutOpeningThem()
    {
        if (OperatingSystem.IsWindows()) return; // no FIFOs there
        using var dir = new TempDirectory();
        string folder = SaveTiny(dir);
        string weights = Path.Combine(folder, ModelFolder.WeightsFile);
        File.Delete(weights);
        MakeFifo(weights);
        Assert.Contains(weights, FailsQuickly(() => ModelFolder.Load(folder)).Message);

        string other = SaveTiny(dir, "other");
        string config = Path.Combine(other, ModelFolder.ConfigFile);
        File.Delete(config);
        MakeFifo(config);
        Assert.Contains(config, FailsQuickly(() => ModelFolder.Load(other)).Message);
        File.Delete(config);
        Directory.CreateDirectory(config);
        Assert.Contains("found a folder", FailsQuickly(() => ModelFolder.Load(other)).Message);

        string tokenizer = dir.File("tok/tokenizer.json");
        Directory.CreateDirectory(dir.File("tok"));
        MakeFifo(tokenizer);
        Assert.Contains(tokenizer, FailsQuickly(() => TokenizerLoader.Load(dir.File("tok"))).Message);

        string checkpoint = dir.File("stories.bin");
        MakeFifo(checkpoint);
        Assert.Contains(checkpoint, FailsQuickly(() => Llama2cCheckpoint.ReadConfig(checkpoint)).Message);

        foreach (var name in new[] { "corpus.jsonl", "corpus.txt", "corpus.parquet" })
        {
            string data = dir.File(name);
            MakeFifo(data);
            Assert.Contains(data, FailsQuickly(() => new CorpusReader(data).ReadDocuments().ToList()).Message);
            Assert.Contains(data, FailsQuickly(() => new InstructionReader(data).Read().ToList()).Message);
        }
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(0)]
    [InlineData(100)]
    public void AParquetFooterLengthBeyondTheFileIsRefused(int footer)
    {
        using var dir = new TempDirectory();
        var bytes = new byte[64];
        "PAR1"u8.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(bytes.Length - 8), footer);
        "PAR1"u8.CopyTo(bytes.AsSpan(bytes.Length - 4));
        string path = dir.Write("bad.parquet", bytes);
        var e = Assert.Throws<SharpLMException>(() => new CorpusReader(path).ReadDocuments().ToList());
        Assert.StartsWith($"{path}: not a readable Parquet file: the footer length {footer}", e.Message);
        Assert.StartsWith($"{path}: not a readable Parquet file",
            Assert.Throws<SharpLMException>(() => new InstructionReader(path).Read().ToList()).Message);
    }

    static string WriteInfinity(string path)
    {
        var prompt = new DataField<string>("prompt");
        var completion = new DataField<string>("completion");
        var weight = new DataField<double>("weight");
        Task.Run(async () =>
        {
            using var stream = File.Create(path);
            await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(prompt, completion, weight), stream);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(prompt, new[] { "p" });
            await group.WriteAsync(completion, new[] { "c" });
            await group.WriteAsync<double>(weight, new[] { double.PositiveInfinity });
        }).GetAwaiter().GetResult();
        return path;
    }

    [Fact]
    public void AnInfiniteParquetNumberNamesTheRowAndField()
    {
        using var dir = new TempDirectory();
        string path = WriteInfinity(dir.File("inf.parquet"));
        var e = Assert.Throws<SharpLMException>(() => new InstructionReader(path).Read().ToList());
        Assert.StartsWith($"{path}:row 0: field \"weight\"", e.Message);
    }

    [Fact]
    public void AHugeMaximumLengthDoesNotOverflow()
    {
        var example = new TemplatedExample([1, 2, 3, 4], [false, true, true, true]);
        var options = new InstructionDatasetOptions { MaxLength = int.MaxValue };
        Assert.Same(example, InstructionDataset.Fit(example, options, out bool truncated));
        Assert.False(truncated);
        Assert.Equal([example], example.Chunks(int.MaxValue));
        Assert.Equal(1, InstructionDataset.Build([example], options).Count);
    }
}
