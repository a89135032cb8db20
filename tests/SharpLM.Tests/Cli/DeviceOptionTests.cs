using System.Text.Json;
using System.Text.RegularExpressions;
using SharpLM.Cli;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Cli;

/// <summary>`--device`: on this CPU-only libtorch, cuda fails at once with the package a GPU machine needs, before a model
/// loads or a run folder is made; cpu runs as without the option.</summary>
[Collection(CliCollection.Name)]
public sealed class DeviceOptionTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static (int Exit, string Out, string Err) Run(params string[] args) =>
        ConsoleCapture.Run(() => CommandRunner.Invoke(CliRoot.Create(), args));

    string TinyModel() => TestModels.TinyFolder(dir.File("model"), seed: 5);

    string Instructions() => dir.Write("train.jsonl", string.Join("\n",
        Enumerable.Range(0, 8).Select(i => JsonSerializer.Serialize(new { instruction = $"Say {i}", output = $"{i}" }))));

    static void AssertRefusedForCuda((int Exit, string Out, string Err) result, string device = "cuda")
    {
        Assert.Equal(1, result.Exit);
        Assert.Equal("", result.Out);
        var line = Assert.Single(result.Err.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"error: --device {device}: CUDA is not available here", line);
        Assert.Contains("a GPU machine needs libtorch-cuda-12.8-linux-x64 (or the TorchSharp-cuda-linux bundle)", line);
        Assert.Contains("NVIDIA driver for CUDA 12.8", line);
    }

    [Fact]
    public void FinetuneOnCudaFailsBeforeMakingTheRunFolder()
    {
        if (cuda.is_available()) return;
        var output = dir.File("run");
        AssertRefusedForCuda(Run("finetune", "--model", TinyModel(), "--data", Instructions(), "--output", output, "--device", "cuda",
            "--max-steps", "1", "--exact-match", "0"));
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void GenerateOnCudaFailsBeforeLoadingTheModel()
    {
        if (cuda.is_available()) return;
        AssertRefusedForCuda(Run("generate", "--model", TinyModel(), "--prompt", "The model", "--device", "cuda:1"), "cuda:1");
        // Not even the model folder is looked at: a missing one is not what the error is about.
        AssertRefusedForCuda(Run("generate", "--model", dir.File("missing"), "--prompt", "x", "--device", "cuda"));
    }

    [Theory]
    [InlineData("pretrain", "--data", "d.txt", "--tokenizer", "t.json", "--output", "o")]
    [InlineData("eval", "--model", "m", "--data", "d.txt")]
    [InlineData("chat", "--model", "m")]
    [InlineData("serve", "--model", "m")]
    public void EveryModelCommandTakesTheDevice(params string[] args)
    {
        if (cuda.is_available()) return;
        // Paths inside the temporary folder, none of which exists: the device is refused before any is looked at or made.
        AssertRefusedForCuda(Run([.. args.Select(a => a.Contains('.') || a is "m" or "o" ? dir.File(a) : a), "--device", "cuda"]));
        Assert.False(Directory.Exists(dir.File("o")));
    }

    [Fact]
    public void AnUnknownDeviceNamesTheFlagAndTheAcceptedNames()
    {
        var (exit, stdout, stderr) = Run("generate", "--model", dir.File("missing"), "--prompt", "x", "--device", "gpu");
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Contains("error: --device \"gpu\" is not a device SharpLM runs on: expected cpu, cuda or cuda:N", stderr);
    }

    [Fact]
    public void CpuGeneratesWhatTheDefaultGenerates()
    {
        var model = TinyModel();
        string[] args = ["generate", "--model", model, "--prompt", "The model", "--max-tokens", "5", "--greedy"];
        var (exit, plain, stderr) = Run(args);
        Assert.True(exit == 0, stderr);
        (exit, var onCpu, stderr) = Run([.. args, "--device", "cpu"]);
        Assert.True(exit == 0, stderr);
        Assert.Equal(plain, onCpu);
    }

    [Fact]
    public void AFinetuneOnCpuPrintsAndRecordsItsDevice()
    {
        var output = dir.File("run");
        var (exit, _, stderr) = Run("finetune", "--model", TinyModel(), "--data", Instructions(), "--output", output, "--device", "CPU",
            "--method", "lora", "--max-steps", "1", "--batch-size", "2", "--max-length", "200", "--exact-match", "0", "--precision", "Fp32");
        Assert.True(exit == 0, stderr);
        Assert.Matches(new Regex(@"\bdevice\s+\W?\s*cpu\b"), stderr); // the settings table says where the run ran
        Assert.Contains("device: CPU", File.ReadAllText(Path.Combine(output, RunSettings.FileName)));
        Assert.True(File.Exists(Path.Combine(output, "final", "adapter_model.safetensors")));
    }
}
