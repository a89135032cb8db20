using System.Globalization;
using System.Text.Json;

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

    public MetricsLog(string runFolder, long resumedFromStep = 0)
    {
        Directory.CreateDirectory(runFolder);
        Path = System.IO.Path.Combine(runFolder, FileName);
        if (File.Exists(Path))
        {
            var kept = File.ReadAllLines(Path).Where(line => StepOf(line) is { } s && s <= resumedFromStep).ToList();
            if (resumedFromStep == 0) kept.Clear();
            File.WriteAllLines(Path, kept);
        }
        writer = new StreamWriter(Path, append: true) { AutoFlush = true };
    }

    public string Path { get; }

    static long? StepOf(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.TryGetProperty("step", out var s) ? s.GetInt64() : null;
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
