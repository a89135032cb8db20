using System.Diagnostics;
using System.Text.Json;
using SharpLM.Hub;
using SharpLM.Tests.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Distributed;

/// <summary>`mpiexec -n 2 sharplm pretrain|finetune` computes the steps one process computes with the same global batch:
/// each rank trains its slice of every batch and the gradients are summed. Losses and weights agree to float rounding
/// (not bitwise: the slices' gradients are added in another order than one process's micro-batches).</summary>
[Collection(DistributedCollection.Name)]
public sealed class DataParallelTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static string Cli => typeof(SharpLM.Cli.CommandRunner).Assembly.Location;

    /// <summary>Runs the CLI as its own process, under mpiexec with <paramref name="ranks"/> &gt; 1.</summary>
    static (int Exit, string Err) Run(int ranks, params string[] args)
    {
        var mpiexec = new[] { "/usr/bin/mpiexec", "/usr/local/bin/mpiexec" }.FirstOrDefault(File.Exists);
        if (ranks > 1 && mpiexec is null)
            Assert.Fail("mpiexec was not found: install MPICH (Debian: apt-get install mpich; ./test.sh and .ci/run do it)");
        var info = new ProcessStartInfo(ranks > 1 ? mpiexec! : "dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        if (ranks > 1) foreach (var a in new[] { "-n", ranks.ToString(), "dotnet" }) info.ArgumentList.Add(a);
        info.ArgumentList.Add(Cli);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3))) process.Kill(entireProcessTree: true);
        stdout.Wait();
        return (process.ExitCode, stderr);
    }

    static List<(double Loss, double GradNorm)> Steps(string run) =>
        [.. RunMetrics.Of(run, "train").Select(e => (e.GetProperty("loss").GetDouble(), e.GetProperty("grad_norm").GetDouble()))];

    static List<double> ValidationLosses(string run) => [.. RunMetrics.Of(run, "valid").Select(e => e.GetProperty("loss").GetDouble())];

    static void AssertSameSteps(string one, string two, int count)
    {
        var (a, b) = (Steps(one), Steps(two));
        Assert.Equal(count, a.Count);
        Assert.Equal(count, b.Count);
        foreach (var (x, y) in a.Zip(b))
        {
            Assert.True(Math.Abs(x.Loss - y.Loss) <= 1e-5 * Math.Abs(x.Loss), $"loss {x.Loss} vs {y.Loss}");
            Assert.True(Math.Abs(x.GradNorm - y.GradNorm) <= 1e-5 * Math.Abs(x.GradNorm), $"gradient norm {x.GradNorm} vs {y.GradNorm}");
        }
    }

    static void AssertSameWeights(string one, string two)
    {
        using var scope = NewDisposeScope();
        using var a = ModelFolder.Load(one);
        using var b = ModelFolder.Load(two);
        var theirs = b.state_dict();
        foreach (var (name, tensor) in a.state_dict())
            Assert.True((tensor - theirs[name]).abs().max().item<float>() < 1e-5f, name);
    }

    string Corpus() => dir.Write("corpus.txt", string.Join("\n\n", TestCorpus.Documents(60)));

    string Validation() => dir.Write("valid.txt", string.Join("\n\n", TestCorpus.Documents(9, seed: 11)));

    string Tokenizer()
    {
        var path = dir.File("tokenizer.json");
        TestCorpus.Tokenizer.Save(path);
        return path;
    }

    [Fact]
    public void TwoRanksPretrainAsOneProcessDoesShardedOrNotAndOneProcessResumesTheirCheckpoint()
    {
        string[] common = ["pretrain", "--tokenizer", Tokenizer(), "--data", Corpus(), "--text-split", "Paragraph", "--preset", "tiny",
            "--seq-len", "32", "--batch-size", "4", "--micro-batch-size", "1", "--precision", "Fp32", "--checkpoint-every", "3",
            "--valid", Validation(), "--eval-every", "3"];
        var (exit, err) = Run(1, [.. common, "--max-steps", "6", "--output", dir.File("one")]);
        Assert.True(exit == 0, err);
        (exit, err) = Run(2, [.. common, "--max-steps", "6", "--output", dir.File("two")]);
        Assert.True(exit == 0, err);
        Assert.Single(err.Split('\n'), l => l.Contains("per optimiser step")); // only the main rank speaks
        AssertSameSteps(dir.File("one"), dir.File("two"), 6);
        // Validation is split across the ranks and their sums added up.
        var (validOne, validTwo) = (ValidationLosses(dir.File("one")), ValidationLosses(dir.File("two")));
        Assert.Equal(3, validOne.Count); // before training, at step 3 and at step 6
        Assert.Equal(validOne.Count, validTwo.Count);
        Assert.All(validOne.Zip(validTwo), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5 * p.First, $"validation {p.First} vs {p.Second}"));
        AssertSameWeights(Path.Combine(dir.File("one"), "final"), Path.Combine(dir.File("two"), "final"));

        // Summing each layer's gradients while the backward pass goes on (the last micro-batch's): the same steps.
        (exit, err) = Run(2, [.. common, "--max-steps", "6", "--overlap-communication", "--output", dir.File("overlapped")]);
        Assert.True(exit == 0, err);
        Assert.Contains("while the backward pass runs", err);
        AssertSameSteps(dir.File("one"), dir.File("overlapped"), 6);
        AssertSameWeights(Path.Combine(dir.File("one"), "final"), Path.Combine(dir.File("overlapped"), "final"));

        // With the optimiser state sharded (ZeRO-1): the same steps.
        (exit, err) = Run(2, [.. common, "--max-steps", "6", "--shard-optimizer", "--output", dir.File("sharded")]);
        Assert.True(exit == 0, err);
        Assert.Contains("optimiser state sharded", err);
        AssertSameSteps(dir.File("one"), dir.File("sharded"), 6);
        AssertSameWeights(Path.Combine(dir.File("one"), "final"), Path.Combine(dir.File("sharded"), "final"));

        // A sharded two-rank run that got to its checkpoint at step 3 (its later files gone, as after a crash), continued
        // by one process, ends where the uninterrupted run did: the checkpoint gathered every rank's optimiser state.
        var split = dir.File("split");
        (exit, err) = Run(2, [.. common, "--max-steps", "6", "--keep-checkpoints", "2", "--shard-optimizer", "--output", split]);
        Assert.True(exit == 0, err);
        Directory.Delete(Path.Combine(split, "checkpoint-6"), recursive: true);
        Directory.Delete(Path.Combine(split, "final"), recursive: true);
        (exit, err) = Run(1, [.. common, "--max-steps", "6", "--output", split, "--resume"]);
        Assert.True(exit == 0, err);
        AssertSameSteps(dir.File("one"), dir.File("split"), 6);
        AssertSameWeights(Path.Combine(dir.File("one"), "final"), Path.Combine(dir.File("split"), "final"));
    }

    [Fact]
    public async Task WhenARankIsKilledTheJobStopsNamingItAndItsCheckpointResumesExactly()
    {
        string[] common = ["pretrain", "--tokenizer", Tokenizer(), "--data", Corpus(), "--text-split", "Paragraph", "--preset", "tiny",
            "--seq-len", "32", "--batch-size", "4", "--precision", "Fp32", "--max-steps", "100", "--checkpoint-every", "5",
            "--keep-checkpoints", "2"];
        var (exit, err) = Run(1, [.. common, "--output", dir.File("whole")]);
        Assert.True(exit == 0, err);

        var run = dir.File("killed");
        var info = new ProcessStartInfo("/usr/bin/mpiexec") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])["-n", "2", "dotnet", Cli, .. common, "--output", run]) info.ArgumentList.Add(a);
        using var job = Process.Start(info)!;
        var output = Task.WhenAll(job.StandardOutput.ReadToEndAsync(), job.StandardError.ReadToEndAsync());
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (!Directory.Exists(Path.Combine(run, "checkpoint-10")) && DateTime.UtcNow < deadline && !job.HasExited) Thread.Sleep(10);
        Assert.False(job.HasExited, "the run ended before a rank could be killed");
        int lost = RankProcess(1, run);
        Process.GetProcessById(lost).Kill(); // SIGKILL
        var clock = Stopwatch.StartNew();
        Assert.True(job.WaitForExit(TimeSpan.FromSeconds(30)), "the other rank did not stop within 30 s");
        var said = string.Join("\n", await output);
        Assert.NotEqual(0, job.ExitCode);
        // MPICH's launcher ends the job and names the lost process, whose rank the settings table gave: either its own
        // report of the kill, or, when the other rank's transport noticed first and aborted it, the transport's.
        Assert.Contains("BAD TERMINATION", said);
        Assert.True(said.Contains($"PID {lost} RUNNING") || said.Contains($"pid={lost} "), said);
        Assert.Contains($"rank 1 = pid {lost}", said);

        (exit, err) = Run(1, [.. common, "--output", run, "--resume"]);
        Assert.True(exit == 0, err);
        Assert.Contains("Resuming from", err);
        AssertSameSteps(dir.File("whole"), run, 100);
        AssertSameWeights(Path.Combine(dir.File("whole"), "final"), Path.Combine(run, "final"));
    }

    /// <summary>The process id of the rank of an MPI job (MPICH's launcher gives each its PMI_RANK) writing to
    /// <paramref name="output"/>.</summary>
    static int RankProcess(int rank, string output)
    {
        foreach (var folder in Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var environment = File.ReadAllText(Path.Combine(folder, "environ")).Split('\0');
                var commandLine = File.ReadAllText(Path.Combine(folder, "cmdline")).Split('\0');
                if (environment.Contains($"PMI_RANK={rank}") && commandLine.Contains(output) && commandLine.Contains(Cli))
                    return int.Parse(Path.GetFileName(folder));
            }
            catch (IOException) { } // gone meanwhile
            catch (UnauthorizedAccessException) { }
        }
        throw new InvalidOperationException($"no process of rank {rank} writing to {output}");
    }

    [Fact]
    public void TwoRanksFineTuneLoraAsOneProcessDoes()
    {
        var model = TestModels.TinyFolder(dir.File("base"), seed: 2);
        var data = dir.Write("train.jsonl", string.Join("\n", Enumerable.Range(0, 12).Select(i =>
            JsonSerializer.Serialize(new { instruction = $"Say {i} twice", output = $"{i} {i}" }))));
        string[] common = ["finetune", "--model", model, "--data", data, "--method", "lora", "--max-steps", "4", "--batch-size", "4",
            "--max-length", "64", "--exact-match", "0", "--precision", "Fp32", "--template", "default"];
        var (exit, err) = Run(1, [.. common, "--output", dir.File("one")]);
        Assert.True(exit == 0, err);
        using var scope = NewDisposeScope();
        using var a = PretrainedModel.Load(Path.Combine(dir.File("one"), "final"));
        foreach (var variant in new[] { "two", "overlapped" })
        {
            (exit, err) = Run(2, [.. common, "--output", dir.File(variant), .. variant == "overlapped" ? ["--overlap-communication"] : (string[])[]]);
            Assert.True(exit == 0, err);
            AssertSameSteps(dir.File("one"), dir.File(variant), 4);
            using var b = PretrainedModel.Load(Path.Combine(dir.File(variant), "final"));
            var theirs = b.Model.state_dict();
            foreach (var (name, tensor) in a.Model.state_dict().Where(kv => kv.Key.Contains("lora_")))
                Assert.True((tensor - theirs[name]).abs().max().item<float>() < 1e-5f, $"{variant}: {name}");
        }
    }

    [Fact]
    public void TwoRanksTrainDpoWithPrecomputedReferencesAsOneProcessDoes()
    {
        var model = TestModels.TinyFolder(dir.File("base"), seed: 2);
        string Pairs(string name, int from, int count) => dir.Write(name, string.Join("\n", Enumerable.Range(from, count).Select(i =>
            JsonSerializer.Serialize(new { prompt = $"Say {i}", chosen = $"{i} {i}", rejected = $"no {i}" }))));
        string[] common = ["finetune", "--objective", "dpo", "--precompute-ref", "--model", model, "--data", Pairs("train.jsonl", 0, 8),
            "--valid", Pairs("valid.jsonl", 50, 5), "--method", "full", "--max-steps", "3", "--batch-size", "4", "--lr", "1e-3",
            "--max-length", "64", "--exact-match", "0", "--precision", "Fp32", "--template", "default"];
        var (exit, err) = Run(1, [.. common, "--output", dir.File("one")]);
        Assert.True(exit == 0, err);
        (exit, err) = Run(2, [.. common, "--output", dir.File("two")]);
        Assert.True(exit == 0, err);
        AssertSameSteps(dir.File("one"), dir.File("two"), 3);
        foreach (var type in new[] { "train", "valid" })
            foreach (var (a, b) in RunMetrics.Of(dir.File("one"), type).Zip(RunMetrics.Of(dir.File("two"), type)))
                foreach (var metric in new[] { "rewards/margins", "rewards/chosen", "logps/rejected" })
                    Assert.Equal(a.GetProperty(metric).GetDouble(), b.GetProperty(metric).GetDouble(), 1e-4);
        Assert.Equal([0.0, 3.0], RunMetrics.Of(dir.File("two"), "valid").Select(v => v.GetProperty("step").GetDouble()));
    }

    [Fact]
    public void ABatchThatDoesNotDivideAmongTheRanksIsRefusedBeforeTraining()
    {
        var (exit, err) = Run(2, "pretrain", "--tokenizer", Tokenizer(), "--data", Corpus(), "--text-split", "Paragraph", "--preset", "tiny",
            "--seq-len", "32", "--batch-size", "3", "--max-steps", "2", "--output", dir.File("odd"));
        Assert.Equal(1, exit);
        Assert.Contains("BatchSize 3 does not divide among 2 processes", err);
        Assert.False(File.Exists(Path.Combine(dir.File("odd"), "metrics.jsonl")));
    }
}
