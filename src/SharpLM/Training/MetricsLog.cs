using System.Text.Json;

namespace SharpLM.Training;

/// <summary>
/// Appends one JSON object per line to <c>metrics.jsonl</c> in the run folder: every step (loss, lr, grad norm,
/// tokens/s), every validation and every sample (<see cref="MetricsRecord"/>). On resume, lines from steps after the
/// checkpoint (a killed run's tail) are dropped first, so the log reads as one uninterrupted run.
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
        writer = StepLogFile.Open(Path, resumedFromStep, StepOf);
    }

    public string Path { get; }

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

    public void OnStep(StepMetrics m) => Write(MetricsRecord.Of(m));

    public void OnEvaluation(EvalMetrics e) => Write(MetricsRecord.Of(e));

    public void OnSample(SampleMetrics s) => Write(MetricsRecord.Of(s));

    void Write(IReadOnlyList<KeyValuePair<string, object>> record) =>
        writer.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>(record)));

    public void Dispose() => writer.Dispose();
}
