using System.Text.Encodings.Web;
using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Cli.DemoTask;

/// <summary>The built demo task: the examples of each split, in their final order, and the filter counts.</summary>
sealed record DemoTaskDataSet(
    IReadOnlyList<DemoTaskExample> Train, IReadOnlyList<DemoTaskExample> Valid, IReadOnlyList<DemoTaskExample> Test, DemoTaskStats Stats)
{
    // Quotes come out as \" rather than \u0022, so the files read like the usual chat data sets.
    internal static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public IReadOnlyList<DemoTaskExample> Examples(DemoTaskSplit split) => split switch
    {
        DemoTaskSplit.Train => Train,
        DemoTaskSplit.Valid => Valid,
        _ => Test,
    };

    public static string FileName(DemoTaskSplit split) => split.ToString().ToLowerInvariant() + ".jsonl";

    /// <summary>Writes train.jsonl, valid.jsonl and test.jsonl into <paramref name="folder"/> (created if needed),
    /// each replaced whole. UTF-8 without BOM, one object per line, "\n" endings: the same inputs give the same bytes.</summary>
    public void Write(string folder)
    {
        Directory.CreateDirectory(folder);
        foreach (var split in Enum.GetValues<DemoTaskSplit>())
        {
            AtomicFile.Write(Path.Combine(folder, FileName(split)), stream =>
            {
                using var json = new Utf8JsonWriter(stream, JsonOptions);
                foreach (var example in Examples(split))
                {
                    example.WriteJson(json);
                    json.Flush();
                    stream.WriteByte((byte)'\n');
                    json.Reset();
                }
            });
        }
    }
}
