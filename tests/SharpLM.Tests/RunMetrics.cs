using System.Text.Json;

namespace SharpLM.Tests;

/// <summary>The records of one type ("train", "valid") in a run folder's metrics.jsonl.</summary>
static class RunMetrics
{
    public static List<JsonElement> Of(string run, string type) =>
        [.. File.ReadLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("type").GetString() == type)];
}
