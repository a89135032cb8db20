using System.Globalization;
using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Training;

/// <summary>
/// Appends one JSON object per line to <c>metrics.jsonl</c> in the run folder: every step (loss, lr, grad norm,
/// tokens/s) and every validation. On resume, lines from steps after the checkpoint (a killed run's tail) are
/// dropped first, so the log reads as one uninterrupted run.
/// </summary>
public sealed class MetricsLog : ITrainingObserver, IDisposable
{
    public const string FileName = "metrics.jsonl";
    readonly StreamWriter writer;

    /// <param name="resumedFromStep">the step of the checkpoint the run resumes from (validated by the caller); 0 for
    /// a fresh run, which starts the log over</param>
    public MetricsLog(string runFolder, long resumedFromStep = 0)
    {
        Path = System.IO.Path.Combine(runFolder, FileName);
        if (resumedFromStep < 0) throw new SharpLMException($"{Path}: cannot continue the log from step {resumedFromStep}");
        Directory.CreateDirectory(runFolder);
        if (File.Exists(Path))
        {
            // Only lines that clearly belong to steps after the checkpoint go; anything unreadable is kept.
            var lines = File.ReadAllLines(Path);
            var kept = resumedFromStep == 0 ? [] : lines.Where(line => !(StepOf(line) > resumedFromStep)).ToList();
            if (kept.Count != lines.Length || !EndsWithNewline(Path))
                AtomicFile.Write(Path, s =>
                {
                    using var w = new StreamWriter(s, leaveOpen: true);
                    foreach (var line in kept) w.WriteLine(line);
                });
        }
        writer = new StreamWriter(Path, append: true) { AutoFlush = true };
    }

    public string Path { get; }

    /// <summary>False when a killed run left half a line, which the next line must not be glued to (or a reader must
    /// not take for a whole one).</summary>
    internal static bool EndsWithNewline(string path)
    {
        using var f = File.OpenRead(path);
        if (f.Length == 0) return true;
        f.Seek(-1, SeekOrigin.End);
        return f.ReadByte() == '\n';
    }

    /// <summary>The whole-number "step" of a log line, or null when the line has none (or is not JSON).</summary>
    static long? StepOf(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("step", out var s)
                   && s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out var step) ? step : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void OnStep(StepMetrics m) => Write(new
    {
        type = "train", step = m.Step, epoch = m.Epoch, loss = m.Loss, lr = m.LearningRate, grad_norm = m.GradNorm,
        tokens = m.Tokens, target_tokens = m.TargetTokens, tokens_per_second = Math.Round(m.TokensPerSecond, 1),
        elapsed_seconds = Math.Round(m.ElapsedSeconds, 3),
    });

    public void OnEvaluation(EvalMetrics e) => Write(new
    {
        type = "valid", step = e.Step, loss = e.Loss, perplexity = e.Perplexity, target_tokens = e.TargetTokens,
    });

    void Write(object record) => writer.WriteLine(JsonSerializer.Serialize(record));

    public void Dispose() => writer.Dispose();
}
