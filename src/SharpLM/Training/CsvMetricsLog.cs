using System.Globalization;

namespace SharpLM.Training;

/// <summary>
/// <c>metrics.csv</c> in the run folder: metrics.jsonl's training and validation records as rows under one header, for
/// spreadsheets and pandas (a validation row leaves the training-only columns empty; samples, being text, stay in
/// metrics.jsonl and TensorBoard). On resume, rows from steps after the checkpoint are dropped first.
/// </summary>
public sealed class CsvMetricsLog : ITrainingObserver, IDisposable
{
    public const string FileName = "metrics.csv";

    /// <summary>Every field of a training or validation record (<see cref="MetricsRecord"/>).</summary>
    public static readonly IReadOnlyList<string> Columns =
        ["type", "step", "epoch", "loss", "lr", "grad_norm", "tokens", "target_tokens", "tokens_per_second", "elapsed_seconds", "perplexity"];

    readonly StreamWriter writer;

    /// <param name="resumedFromStep">as for <see cref="MetricsLog"/></param>
    public CsvMetricsLog(string runFolder, long resumedFromStep = 0)
    {
        Path = System.IO.Path.Combine(runFolder, FileName);
        writer = StepLogFile.Open(Path, resumedFromStep, StepOf, string.Join(',', Columns));
    }

    public string Path { get; }

    static long? StepOf(string line) =>
        line.Split(',') is [_, var step, ..] && long.TryParse(step, CultureInfo.InvariantCulture, out var s) ? s : null;

    public void OnStep(StepMetrics m) => Write(MetricsRecord.Of(m));

    public void OnEvaluation(EvalMetrics e) => Write(MetricsRecord.Of(e));

    void Write(IReadOnlyList<KeyValuePair<string, object>> record)
    {
        var fields = record.ToDictionary(f => f.Key, f => f.Value);
        writer.WriteLine(string.Join(',', Columns.Select(c => fields.TryGetValue(c, out var v) ? Format(v) : "")));
    }

    static string Format(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public void Dispose() => writer.Dispose();
}
