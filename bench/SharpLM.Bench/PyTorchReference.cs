using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using SharpLM.Model;

namespace SharpLM.Bench;

/// <summary>
/// The tutorial's model and training step in PyTorch (bench/pytorch/train_llama.py) on the same shape, batch and
/// threads, run with Debian's python3-torch: the per-process speed SharpLM is compared with. Optional: without a
/// Python that imports torch the comparison is skipped with a note.
/// </summary>
static class PyTorchReference
{
    static readonly string Script = Path.Combine(AppContext.BaseDirectory, "pytorch", "train_llama.py");
    static readonly string MatmulScript = Path.Combine(AppContext.BaseDirectory, "pytorch", "matmul_rate.py");

    /// <summary>The OpenBLAS kernels PyTorch runs with: <see cref="CoreType"/> for OPENBLAS_CORETYPE (null = what OpenBLAS
    /// detects), and a line that says what each choice measured.</summary>
    public sealed record BlasChoice(string? CoreType, string Report);

    /// <summary>OpenBLAS picks its kernels by CPU model and falls back to old ones on a model it does not know: Debian's 0.3.21 on
    /// an Emerald Rapids Xeon chose "Prescott" (SSE3), 65 GFLOP/s, where its SkylakeX kernels reach 317. The comparison is with
    /// PyTorch at its best, so this measures PyTorch's fp32 matmul with the detected kernels and with the AVX-512 and AVX2 ones
    /// this CPU can run, and returns the fastest.</summary>
    public static BlasChoice ChooseBlas(string python, int threads)
    {
        var candidates = new List<string?> { null };
        if (Avx512F.IsSupported) candidates.Add("SkylakeX");
        if (Avx2.IsSupported) candidates.Add("Haswell");
        var measured = new List<(string? CoreType, string Name, double Rate)>();
        foreach (var coreType in candidates)
        {
            var start = new ProcessStartInfo(python, $"\"{MatmulScript}\" --threads {threads}")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            start.Environment["OPENBLAS_VERBOSE"] = "2";
            if (coreType is not null) start.Environment["OPENBLAS_CORETYPE"] = coreType;
            using var process = Process.Start(start)!;
            var errors = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            var detected = errors.Result.Split('\n').FirstOrDefault(l => l.StartsWith("Core: "))?[6..].Trim() ?? "?";
            double rate = output.StartsWith("gflops ") && double.TryParse(output[7..], out var r) ? r : double.NaN;
            measured.Add((coreType, coreType is null ? $"detected ({detected})" : coreType, rate));
        }
        var best = measured.Where(m => !double.IsNaN(m.Rate)).MaxBy(m => m.Rate);
        var report = "PyTorch's fp32 matmul (2048^2) with OpenBLAS's kernels: " +
                     string.Join(", ", measured.Select(m => $"{m.Name} {m.Rate:F0} GFLOP/s")) +
                     (best.CoreType is null ? "; PyTorch runs with the detected ones" : $"; PyTorch runs with OPENBLAS_CORETYPE={best.CoreType}");
        return new BlasChoice(best.CoreType, report);
    }

    /// <summary>A python3 that imports torch (Debian's, not a pyenv one without it), or null.</summary>
    public static string? FindPython()
    {
        foreach (var python in new[] { "/usr/bin/python3", "python3" })
            try
            {
                using var process = Process.Start(new ProcessStartInfo(python, "-c \"import torch; print(torch.__version__)\"")
                {
                    RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                })!;
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode == 0) return python;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // not installed under this name
            }
        return null;
    }

    /// <summary>How to run the tutorial's training step in PyTorch for the preset's shape in lockstep with SharpLM's
    /// (<see cref="LockstepComparison"/>), after <paramref name="warmup"/> untimed steps, with the OpenBLAS kernels
    /// <paramref name="blas"/> chose.</summary>
    public static ProcessStartInfo LockstepTraining(string python, string preset, int batch, int seq, string precision, int threads,
        int warmup, BlasChoice blas)
    {
        var c = ModelPresets.Get(preset);
        var args = $"\"{Script}\" --hidden {c.HiddenSize} --intermediate {c.IntermediateSize} --layers {c.NumHiddenLayers} " +
                   $"--heads {c.NumAttentionHeads} --kv-heads {c.NumKeyValueHeads} --vocab {c.VocabSize} --batch {batch} --seq {seq} " +
                   $"--warmup {warmup} --threads {threads} --precision {precision.ToLowerInvariant()} --lockstep";
        var start = new ProcessStartInfo(python, args);
        if (blas.CoreType is not null) start.Environment["OPENBLAS_CORETYPE"] = blas.CoreType;
        return start;
    }
}
