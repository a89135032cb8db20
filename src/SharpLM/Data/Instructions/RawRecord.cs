using System.Text.Json;

namespace SharpLM.Data;

/// <summary>One record as a file reader found it, before its fields are interpreted.</summary>
/// <param name="Where"><c>path:line</c> or <c>path:row N</c>.</param>
/// <param name="Json">The record as a JSON object (CSV and Parquet rows are converted).</param>
/// <param name="Problem">Why the record could not be read at all (the whole message, location included); then
/// <paramref name="Json"/> is undefined.</param>
internal readonly record struct RawRecord(string Where, JsonElement Json, string? Problem);
