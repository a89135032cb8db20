using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace SharpLM.Hub;

/// <summary>
/// Fetches a repository's files from the Hugging Face Hub into <see cref="HubCache"/>, as huggingface_hub's
/// snapshot_download does: the revision's commit and file list from <c>/api/{models|datasets}/{id}/revision/{revision}</c>,
/// then, for each chosen file not already in the snapshot, a HEAD of <c>/{id}/resolve/{commit}/{file}</c> for its ETag,
/// size and location (an LFS file redirects to the CDN). Bytes go to <c>blobs/&lt;etag&gt;.incomplete</c>, resumed with a
/// Range request after an interruption (here or in an earlier run), and are renamed into blobs/ only once their size and,
/// for LFS files, their SHA-256 (the ETag) are right. With <see cref="HubSettings.Offline"/>, or when the Hub cannot be
/// reached, the cached snapshot is used.
/// </summary>
public sealed class HubDownloader : IDisposable
{
    const int Attempts = 5;
    const int MaxRedirects = 5;
    static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    readonly HubSettings settings;
    readonly HttpClient http;

    /// <param name="handler">the HTTP handler to send requests through (a proxy's, a test's); redirects are followed here,
    /// so it should not follow them itself</param>
    public HubDownloader(HubSettings settings, HttpMessageHandler? handler = null)
    {
        // A base address without its final '/' would lose its last segment when API paths are appended.
        var endpoint = settings.Endpoint.AbsoluteUri;
        this.settings = endpoint.EndsWith('/') ? settings : settings with { Endpoint = new Uri(endpoint + "/") };
        Cache = new HubCache(settings.CacheFolder);
        handler ??= new SocketsHttpHandler
        {
            AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("SharpLM", typeof(HubDownloader).Assembly.GetName().Version?.ToString()));
    }

    public HubCache Cache { get; }

    /// <summary>Called as bytes arrive (from the downloading thread).</summary>
    public Action<HubTransfer>? Progress { get; init; }

    /// <summary>Called with what went wrong but was recovered from: a resumed transfer, the cache used when the Hub was unreachable.</summary>
    public Action<string>? Warning { get; init; }

    /// <summary>See <see cref="DownloadAsync"/>.</summary>
    public string Download(HubRepoId repo, HubFileSelection selection, CancellationToken cancel = default) =>
        DownloadAsync(repo, selection, cancel).GetAwaiter().GetResult();

    /// <summary>Makes sure the cache's snapshot of <paramref name="repo"/> holds the files <paramref name="selection"/> chooses.</summary>
    /// <returns>the snapshot folder (<c>…/snapshots/&lt;commit&gt;</c>), a model folder for a model repository</returns>
    /// <exception cref="HubException">refused, missing, not cached while offline, unreachable, or a corrupt transfer</exception>
    public async Task<string> DownloadAsync(HubRepoId repo, HubFileSelection selection, CancellationToken cancel = default)
    {
        if (settings.Offline) return FromCache(repo, selection, "HubSettings.Offline is set");
        HubRepoListing listing;
        try
        {
            listing = await ListAsync(repo, cancel);
        }
        catch (HubException e) when (e.Failure == HubFailure.Unreachable && Cache.FindSnapshot(repo) is not null)
        {
            var snapshot = FromCache(repo, selection, e.Message);
            Warning?.Invoke($"{e.Message}; using the cached snapshot {snapshot}");
            return snapshot;
        }
        Cache.WriteRef(repo, listing.Commit);
        var chosen = selection.Choose(repo, listing.Files).Distinct().ToList();
        await FetchAllAsync(repo, listing.Commit, chosen, cancel);
        var folder = Cache.SnapshotFolder(repo, listing.Commit);
        var named = selection.Follow(folder).Except(chosen).ToList();
        var known = listing.Files.ToHashSet(StringComparer.Ordinal);
        if (named.FirstOrDefault(f => !known.Contains(f)) is { } missing)
            throw new HubException(HubFailure.NotFound,
                $"{repo}: {ModelFolder.IndexFile} names the shard {missing}, which the repository does not have");
        await FetchAllAsync(repo, listing.Commit, named, cancel);
        return folder;
    }

    /// <summary>The cached snapshot, when it holds what <paramref name="selection"/> needs; <paramref name="why"/> says why
    /// the Hub is not asked.</summary>
    string FromCache(HubRepoId repo, HubFileSelection selection, string why)
    {
        var snapshot = Cache.FindSnapshot(repo)
            ?? throw new HubException(HubFailure.NotCached, $"{repo} is not in the Hugging Face cache ({Cache.RepoFolder(repo)}) " +
                                                            $"and the Hub is not asked: {why}");
        var files = Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(snapshot, f).Replace(Path.DirectorySeparatorChar, '/')).Order(StringComparer.Ordinal).ToList();
        try
        {
            var present = files.ToHashSet(StringComparer.Ordinal);
            var needed = selection.Choose(repo, files).Concat(selection.Follow(snapshot));
            if (needed.FirstOrDefault(f => !present.Contains(f)) is { } missing)
                throw new HubException(HubFailure.NotFound, $"{missing} is missing");
        }
        catch (HubException e)
        {
            throw new HubException(HubFailure.NotCached,
                $"the cached snapshot {snapshot} is incomplete ({e.Message}) and the Hub is not asked: {why}", e);
        }
        return snapshot;
    }

    async Task<HubRepoListing> ListAsync(HubRepoId repo, CancellationToken cancel)
    {
        var uri = new Uri(settings.Endpoint, $"api/{repo.TypePlural}/{repo.Id}/revision/{Uri.EscapeDataString(repo.Revision)}");
        using var response = await SendAsync(HttpMethod.Get, uri, followAnyRedirect: false, range: null, cancel);
        ThrowIfFailed(response, repo, null);
        var json = await response.Content.ReadAsByteArrayAsync(cancel);
        return HubRepoListing.Parse(json, uri.ToString());
    }

    async Task FetchAllAsync(HubRepoId repo, string commit, IReadOnlyList<string> files, CancellationToken cancel)
    {
        foreach (var file in files)
        {
            HubRepoListing.RequireSafePath(file, repo);
            if (File.Exists(Cache.PointerPath(repo, commit, file))) continue; // already in this commit's snapshot: no request
            var metadata = await HeadAsync(repo, commit, file, cancel);
            var blob = Cache.BlobPath(repo, metadata.Etag);
            if (!File.Exists(blob))
            {
                using var held = await LockAsync(Cache.LockPath(repo, metadata.Etag), file, cancel);
                if (!File.Exists(blob)) await DownloadBlobAsync(repo, file, metadata, blob, cancel);
            }
            Cache.Link(repo, commit, file, metadata.Etag);
        }
    }

    /// <summary>The file's ETag, size and location, from the Hub's headers. A redirect to another server (LFS files to the
    /// CDN) is not followed: the Hub's own answer carries X-Linked-Etag and X-Linked-Size. A relative one (a renamed
    /// repository) is.</summary>
    async Task<HubFileMetadata> HeadAsync(HubRepoId repo, string commit, string file, CancellationToken cancel)
    {
        var uri = ResolveUri(repo, commit, file);
        for (int hop = 0; ; hop++)
        {
            using var response = await SendAsync(HttpMethod.Head, uri, followAnyRedirect: false, range: null, cancel);
            var location = IsRedirect(response.StatusCode) ? response.Headers.Location : null;
            if (location is not null && !location.IsAbsoluteUri && hop < MaxRedirects)
            {
                uri = new Uri(uri, location);
                continue;
            }
            if (location is null) ThrowIfFailed(response, repo, file);
            var etag = Header(response, "X-Linked-Etag") ?? Header(response, "ETag")
                ?? throw new HubException(HubFailure.Unreachable, $"{repo}: the Hub sent no ETag for {file}, so it cannot be cached");
            etag = etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag;
            etag = etag.Trim('"');
            if (etag.Length == 0 || etag.Contains("..") || !etag.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                throw new HubException(HubFailure.Unreachable, $"{repo}: the Hub's ETag for {file} (\"{etag}\") cannot name a file in the cache");
            long? size = long.TryParse(Header(response, "X-Linked-Size"), out var linked) ? linked : response.Content.Headers.ContentLength;
            return new HubFileMetadata(etag, size, location is null ? uri : new Uri(uri, location));
        }
    }

    async Task DownloadBlobAsync(HubRepoId repo, string file, HubFileMetadata metadata, string blob, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        var partial = blob + ".incomplete";
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await TransferAsync(repo, file, metadata, partial, cancel);
                break;
            }
            catch (Exception e) when (IsTransient(e, cancel) && attempt < Attempts)
            {
                Warning?.Invoke($"{repo}: {file}: the transfer broke off ({e.Message}); resuming (attempt {attempt + 1} of {Attempts})");
                await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt * attempt), cancel);
            }
            catch (Exception e) when (IsTransient(e, cancel))
            {
                throw new HubException(HubFailure.Unreachable, $"{repo}: {file}: the transfer failed {Attempts} times ({e.Message}); " +
                                                               $"what arrived is kept in {partial} and the next download resumes it", e);
            }
        }
        Verify(repo, file, metadata, partial);
        File.Move(partial, blob);
    }

    /// <summary>One GET of the file's bytes, appended to <paramref name="partial"/> from where it ends.</summary>
    async Task TransferAsync(HubRepoId repo, string file, HubFileMetadata metadata, string partial, CancellationToken cancel)
    {
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (metadata.Size is { } size && have >= size)
        {
            if (have == size) return; // complete from an earlier run, not yet verified
            File.Delete(partial);
            have = 0;
        }
        using var response = await SendAsync(HttpMethod.Get, metadata.Location, followAnyRedirect: true, have > 0 ? have : null, cancel);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            File.Delete(partial); // the server has less than we kept: start over
            throw new IOException("the server refused to resume; starting over");
        }
        ThrowIfFailed(response, repo, file);
        bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
        if (resumed && response.Content.Headers.ContentRange?.From != have)
            throw new HubException(HubFailure.Unreachable, $"{repo}: {file}: the server resumed at byte " +
                                                           $"{response.Content.Headers.ContentRange?.From} instead of {have}");
        if (!resumed) have = 0; // it ignored the Range header and sends everything
        long? expected = response.Content.Headers.ContentLength is { } length ? have + length : metadata.Size;
        await using var source = await response.Content.ReadAsStreamAsync(cancel);
        await using var target = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var buffer = new byte[1 << 20];
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        Progress?.Invoke(new HubTransfer(file, have, metadata.Size));
        while (true)
        {
            stall.CancelAfter(StallTimeout);
            int read = await source.ReadAsync(buffer, stall.Token);
            if (read == 0) break;
            await target.WriteAsync(buffer.AsMemory(0, read), cancel);
            have += read;
            Progress?.Invoke(new HubTransfer(file, have, metadata.Size));
        }
        target.Flush(flushToDisk: true);
        if (expected is { } total && have < total) throw new IOException($"the connection closed after {have:N0} of {total:N0} bytes");
    }

    /// <summary>The size the Hub announced and, for LFS files, the SHA-256 its ETag is; a file that fails either is deleted.</summary>
    static void Verify(HubRepoId repo, string file, HubFileMetadata metadata, string partial)
    {
        long length = new FileInfo(partial).Length;
        if (metadata.Size is { } size && length != size)
        {
            File.Delete(partial);
            throw new HubException(HubFailure.Corrupt,
                $"{repo}: {file} should be {size:N0} bytes but {length:N0} arrived; the download was discarded");
        }
        if (metadata.Sha256 is not { } expected) return;
        string actual;
        using (var stream = File.OpenRead(partial)) actual = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (actual == expected) return;
        File.Delete(partial);
        throw new HubException(HubFailure.Corrupt, $"{repo}: {file} has SHA-256 {actual}, not the {expected} the Hub announced; " +
                                                   "the download was discarded");
    }

    /// <summary>huggingface_hub's lock file for the blob, so a Python download and this one never write it at once
    /// (.NET takes an advisory flock for FileShare.None on Unix, the lock Python's filelock takes).</summary>
    async Task<IDisposable> LockAsync(string path, string file, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        for (bool warned = false; ; warned = true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (!cancel.IsCancellationRequested)
            {
                if (!warned) Warning?.Invoke($"{file}: another program is downloading it ({path} is locked); waiting");
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancel);
            }
        }
    }

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, bool followAnyRedirect, long? range, CancellationToken cancel)
    {
        for (int hop = 0; ; hop++)
        {
            var request = new HttpRequestMessage(method, uri);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            if (range is { } from) request.Headers.Range = new RangeHeaderValue(from, null);
            // The token goes to the Hub only, never to the CDN or another host a redirect names.
            if (settings.Token is { } token && IsEndpoint(uri)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancel.IsCancellationRequested))
            {
                throw new HubException(HubFailure.Unreachable, $"could not reach {uri.GetLeftPart(UriPartial.Authority)} ({e.Message})", e);
            }
            var location = IsRedirect(response.StatusCode) ? response.Headers.Location : null;
            if (location is null || hop >= MaxRedirects || (!followAnyRedirect && location.IsAbsoluteUri)) return response;
            response.Dispose();
            uri = new Uri(uri, location);
        }
    }

    bool IsEndpoint(Uri uri) => Uri.Compare(uri, settings.Endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped,
        StringComparison.OrdinalIgnoreCase) == 0;

    Uri ResolveUri(HubRepoId repo, string commit, string file)
    {
        var prefix = repo.Type == HubRepoType.Dataset ? "datasets/" : "";
        var path = string.Join('/', file.Split('/').Select(Uri.EscapeDataString));
        return new Uri(settings.Endpoint, $"{prefix}{repo.Id}/resolve/{commit}/{path}");
    }

    void ThrowIfFailed(HttpResponseMessage response, HubRepoId repo, string? file)
    {
        if (response.IsSuccessStatusCode) return;
        int code = (int)response.StatusCode;
        var what = file is null ? $"{repo}" : $"{repo}: {file}";
        var said = Header(response, "X-Error-Message") is { } message ? $" (the Hub says: {message})" : "";
        throw code switch
        {
            401 or 403 => new HubException(HubFailure.AccessDenied, settings.Token is null
                ? $"{what}: the Hub refused access ({code}){said}: the repository is gated or private, or does not exist; " +
                  "set HubSettings.Token to a token of an account that may read it (accept a gated repository's conditions on its page first)"
                : $"{what}: the Hub refused access ({code}){said}: the token in HubSettings.Token may not read this repository " +
                  "(accept a gated repository's conditions on its page, or check the token)"),
            404 => new HubException(HubFailure.NotFound, $"{what}: not found on {settings.Endpoint} (404){said}: check the name and revision"),
            _ => new HubException(HubFailure.Unreachable, $"{what}: the Hub answered {code} {response.ReasonPhrase}{said}"),
        };
    }

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;

    static bool IsRedirect(HttpStatusCode code) => (int)code is >= 300 and < 400;

    static bool IsTransient(Exception e, CancellationToken cancel) => !cancel.IsCancellationRequested &&
        e is IOException or HttpRequestException or OperationCanceledException or HubException { Failure: HubFailure.Unreachable };

    public void Dispose() => http.Dispose();
}
