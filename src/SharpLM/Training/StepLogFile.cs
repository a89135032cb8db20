using SharpLM.IO;

namespace SharpLM.Training;

/// <summary>
/// A run folder's log of one record per line (metrics.jsonl, metrics.csv), opened for appending. On resume, lines from
/// steps after the checkpoint (a killed run's tail) are dropped first, so the log reads as one uninterrupted run.
/// </summary>
static class StepLogFile
{
    /// <param name="resumedFromStep">the step of the checkpoint the run resumes from (validated by the caller); 0 for
    /// a fresh run, which starts the log over</param>
    /// <param name="stepOf">the step of a line, or null for a line that has none (a header, or one it cannot read,
    /// which is kept)</param>
    /// <param name="header">the first line of a new (or restarted) file</param>
    public static StreamWriter Open(string path, long resumedFromStep, Func<string, long?> stepOf, string? header = null)
    {
        if (resumedFromStep < 0) throw new SharpLMException($"{path}: cannot continue the log from step {resumedFromStep}");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (File.Exists(path))
        {
            var lines = File.ReadAllLines(path);
            var kept = resumedFromStep == 0 ? [] : lines.Where(line => !(stepOf(line) > resumedFromStep)).ToList();
            if (kept.Count != lines.Length || !EndsWithNewline(path))
                AtomicFile.Write(path, s =>
                {
                    using var w = new StreamWriter(s, leaveOpen: true);
                    foreach (var line in kept) w.WriteLine(line);
                });
        }
        var writer = new StreamWriter(path, append: true) { AutoFlush = true };
        if (header is not null && writer.BaseStream.Length == 0) writer.WriteLine(header);
        return writer;
    }

    /// <summary>False when a killed run left half a line, which the next line must not be glued to.</summary>
    internal static bool EndsWithNewline(string path)
    {
        using var f = File.OpenRead(path);
        if (f.Length == 0) return true;
        f.Seek(-1, SeekOrigin.End);
        return f.ReadByte() == '\n';
    }
}
