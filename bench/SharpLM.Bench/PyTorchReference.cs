using System.Diagnostics;
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

    /// <summary>PyTorch's training tokens/s for the preset's shape over <paramref name="steps"/> steps after
    /// <paramref name="warmup"/> untimed ones, in one run, or NaN when the script fails.</summary>
    public static double TrainTokensPerSecond(string python, string preset, int batch, int seq, string precision, int steps, int threads,
        int warmup)
    {
        var c = ModelPresets.Get(preset);
        var args = $"\"{Script}\" --hidden {c.HiddenSize} --intermediate {c.IntermediateSize} --layers {c.NumHiddenLayers} " +
                   $"--heads {c.NumAttentionHeads} --kv-heads {c.NumKeyValueHeads} --vocab {c.VocabSize} --batch {batch} --seq {seq} " +
                   $"--steps {steps} --warmup {warmup} --threads {threads} --precision {precision.ToLowerInvariant()}";
        using var process = Process.Start(new ProcessStartInfo(python, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var last = process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        process.WaitForExit();
        return process.ExitCode == 0 && last.StartsWith("tok/s ") && double.TryParse(last[6..], out var rate) ? rate : double.NaN;
    }
}
