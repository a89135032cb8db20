namespace SharpLM.Hub;

/// <summary>Where and how <see cref="HubDownloader"/> reaches the Hugging Face Hub and keeps its files. The library reads
/// no environment variables: a program maps its own (the CLI maps HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_OFFLINE).</summary>
public sealed record HubSettings
{
    public static readonly Uri DefaultEndpoint = new("https://huggingface.co");

    /// <summary>The Hub's address (a mirror or a test server may stand in for it).</summary>
    public Uri Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>A user access token, sent as <c>Authorization: Bearer</c> to <see cref="Endpoint"/> only (gated and private
    /// repositories need one); null for none.</summary>
    public string? Token { get; init; }

    /// <summary>The cache in huggingface_hub's layout (its <c>$HF_HOME/hub</c>), shared with Python tools.</summary>
    public required string CacheFolder { get; init; }

    /// <summary>Use the cache only and send no request; what is not cached is an error.</summary>
    public bool Offline { get; init; }
}
