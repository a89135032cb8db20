namespace SharpLM.Data;

/// <summary>Bad records skipped because the reader was asked to skip them: how many, and where and why for each
/// (the first <see cref="MaxListed"/>), so a user can fix the data.</summary>
public sealed class SkippedRecords
{
    /// <summary>Messages kept; past this only the count grows (a corpus that is all bad would fill memory).</summary>
    public const int MaxListed = 100_000;

    readonly List<string> messages = [];

    public long Count { get; private set; }

    /// <summary>One message per skipped record, naming its file and line (or row) and what was wrong.</summary>
    public IReadOnlyList<string> Messages => messages;

    internal void Add(string message)
    {
        Count++;
        if (messages.Count < MaxListed) messages.Add(message);
    }
}
