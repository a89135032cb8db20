using System.Text.Json;
using SharpLM.Training;

namespace SharpLM.Reporting;

/// <summary>One optimiser step as metrics.jsonl records it; what an older or newer log lacks is null.</summary>
public sealed record TrainPoint(long Step, double Loss, double? LearningRate, double? GradNorm, double? TokensPerSecond, double? ElapsedSeconds);

/// <summary>One validation pass.</summary>
public sealed record ValidPoint(long Step, double Loss, double? Perplexity);

/// <summary>A sample text a run logged, with every text field of its record (prompt, text...) by name.</summary>
public sealed record SamplePoint(long? Step, IReadOnlyList<(string Field, string Text)> Fields);

/// <summary>
/// A run's <c>metrics.jsonl</c> read back (<see cref="MetricsLog"/> writes it): the "train", "valid" and "sample" records.
/// Records of other types and fields it does not know are skipped, so logs of newer versions still read.
/// </summary>
public sealed class RunHistory
{
    public List<TrainPoint> Train { get; } = [];
    public List<ValidPoint> Valid { get; } = [];
    public List<SamplePoint> Samples { get; } = [];

    /// <summary>What was read but left out (a last line still being written), for the reader to be told.</summary>
    public List<string> Warnings { get; } = [];

    public static RunHistory Load(string path)
    {
        var history = new RunHistory();
        var lines = File.ReadAllLines(path);
        bool complete = lines.Length == 0 || StepLogFile.EndsWithNewline(path);
        for (int i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            JsonElement record;
            try
            {
                using var doc = JsonDocument.Parse(lines[i]);
                record = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                // A run still writing (or killed mid-line) leaves half a last line: that one is only a warning.
                if (i == lines.Length - 1 && !complete)
                {
                    history.Warnings.Add($"{path}:{i + 1}: skipped an unfinished last line");
                    continue;
                }
                throw new SharpLMException($"{path}:{i + 1}: not a JSON object ({e.Message})");
            }
            if (record.ValueKind != JsonValueKind.Object)
                throw new SharpLMException($"{path}:{i + 1}: expected a JSON object, found {record.ValueKind}");
            history.Add(record, $"{path}:{i + 1}");
        }
        return history;
    }

    void Add(JsonElement record, string where)
    {
        var type = record.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (type)
        {
            case "train":
                Train.Add(new TrainPoint(Step(record, where), Required(record, "loss", where), Optional(record, "lr"),
                    Optional(record, "grad_norm"), Optional(record, "tokens_per_second"), Optional(record, "elapsed_seconds")));
                break;
            case "valid":
                Valid.Add(new ValidPoint(Step(record, where), Required(record, "loss", where), Optional(record, "perplexity")));
                break;
            case "sample":
                var fields = record.EnumerateObject().Where(p => p.Name != "type" && p.Value.ValueKind == JsonValueKind.String)
                    .Select(p => (p.Name, p.Value.GetString()!)).ToList();
                Samples.Add(new SamplePoint(Optional(record, "step") is { } s ? (long)s : null, fields));
                break;
        }
    }

    static long Step(JsonElement record, string where) =>
        record.TryGetProperty("step", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out var step) ? step
            : throw new SharpLMException($"{where}: a \"{record.GetProperty("type").GetString()}\" record needs a whole-number \"step\"");

    static double Required(JsonElement record, string field, string where) =>
        Optional(record, field) ?? throw new SharpLMException(
            $"{where}: a \"{record.GetProperty("type").GetString()}\" record needs a number \"{field}\"");

    static double? Optional(JsonElement record, string field) =>
        record.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}
