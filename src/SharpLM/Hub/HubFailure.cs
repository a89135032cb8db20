namespace SharpLM.Hub;

/// <summary>Why the Hub could not give a file, for a program that words its own advice (which variable sets the token).</summary>
public enum HubFailure
{
    /// <summary>401 or 403: gated, private, or not there (the Hub answers 401 for unknown repositories without a token).</summary>
    AccessDenied,
    /// <summary>404: no such repository, revision or file.</summary>
    NotFound,
    /// <summary><see cref="HubSettings.Offline"/> is set and the cache does not hold it.</summary>
    NotCached,
    /// <summary>The Hub could not be reached, or a transfer failed after its retries.</summary>
    Unreachable,
    /// <summary>A file arrived but its size or SHA-256 is not what the Hub announced.</summary>
    Corrupt,
    /// <summary>The repository holds nothing SharpLM can use (pickled weights only, no data files).</summary>
    Unsupported,
}
