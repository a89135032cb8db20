namespace SharpLM.Hub;

/// <summary>What the Hub says of one file before it is fetched: its ETag (the blob's name in the cache; for files kept
/// in LFS, the SHA-256 of the content), its size, and where its bytes are (the Hub itself, or the CDN an LFS file
/// redirects to).</summary>
sealed record HubFileMetadata(string Etag, long? Size, Uri Location)
{
    /// <summary>The ETag is a SHA-256 (64 hex digits) for LFS files; a git blob id (40) for the others.</summary>
    public string? Sha256 => Etag.Length == 64 && Etag.All(char.IsAsciiHexDigit) ? Etag.ToLowerInvariant() : null;
}
