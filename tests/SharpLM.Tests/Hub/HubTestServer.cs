using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SharpLM.Tests.Hub;

/// <summary>
/// The Hugging Face Hub's download API on 127.0.0.1, from repositories made in the test: <c>/api/{models|datasets}/{id}/revision/{rev}</c>
/// (sha and siblings), <c>/[datasets/]{id}/resolve/{rev}/{file}</c> (HEAD and GET; git files with their git blob id as ETag,
/// LFS files (.safetensors, .parquet) redirected to <c>localhost/cdn/{sha256}</c> with X-Linked-Etag and X-Linked-Size, as the
/// Hub sends them to its CDN), 401 for gated repositories without the token and for unknown ones, 404 for unknown
/// revisions and files, and Range requests. Faults on demand: a transfer cut off halfway, bytes that do not match their SHA-256.
/// </summary>
sealed class HubTestServer : IAsyncDisposable
{
    public const string GoodToken = "hf_test_token";

    readonly WebApplication app;
    readonly ConcurrentDictionary<string, Repo> repos = new();

    public sealed record Repo(string Commit, Dictionary<string, byte[]> Files, bool Gated, Dictionary<string, string> Refs);

    /// <summary>Every request: method, path (undecoded), Range header, whether a bearer token came.</summary>
    public ConcurrentQueue<(string Method, string Path, string? Range, bool Token)> Requests { get; } = new();

    /// <summary>Files (by SHA-256) whose next transfer stops after half of the bytes; each cut happens once.</summary>
    public ConcurrentDictionary<string, bool> CutOnce { get; } = new();

    /// <summary>Files (by SHA-256) served with one byte changed.</summary>
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new();

    HubTestServer(WebApplication app) => this.app = app;

    public Uri Endpoint => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public static async Task<HubTestServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var server = new HubTestServer(builder.Build());
        server.app.Run(server.HandleAsync);
        await server.app.StartAsync();
        return server;
    }

    /// <summary>Adds (or replaces) a repository whose main branch is a new commit with <paramref name="files"/>.</summary>
    public string AddRepo(string id, Dictionary<string, byte[]> files, bool gated = false, bool dataset = false)
    {
        var commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(id + files.Count + Guid.NewGuid())));
        repos[Key(dataset, id)] = new Repo(commit, new Dictionary<string, byte[]>(files), gated, new() { ["main"] = commit });
        return commit;
    }

    /// <summary>A model folder's files, keyed by their paths in the repository.</summary>
    public static Dictionary<string, byte[]> FilesOf(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f).Replace('\\', '/'), File.ReadAllBytes);

    public static bool IsLfs(string file) =>
        file.EndsWith(".safetensors", StringComparison.Ordinal) || file.EndsWith(".parquet", StringComparison.Ordinal);

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The id git gives a file's content (the Hub's ETag for files outside LFS).</summary>
    public static string GitBlobId(byte[] bytes) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {bytes.Length}\0"), .. bytes]));

    static string Key(bool dataset, string id) => (dataset ? "datasets/" : "models/") + id;

    async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value!;
        bool token = context.Request.Headers.Authorization.ToString() == $"Bearer {HubTestServer.GoodToken}";
        Requests.Enqueue((context.Request.Method, path,
            context.Request.Headers.Range.FirstOrDefault(), context.Request.Headers.Authorization.Count > 0));
        var segments = path.Trim('/').Split('/');
        if (segments[0] == "cdn")
        {
            await ServeBlobAsync(context, segments[1]);
            return;
        }
        if (segments[0] == "api" && segments.Length >= 6 && segments[4] == "revision")
        {
            var listed = Find(context, segments[1] == "datasets", $"{segments[2]}/{segments[3]}", Uri.UnescapeDataString(segments[5]), token);
            if (listed is null) return;
            var (repo, commit) = listed.Value;
            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = $"{segments[2]}/{segments[3]}", ["sha"] = commit,
                ["siblings"] = new JsonArray(repo.Files.Keys.Order().Select(f => (JsonNode)new JsonObject { ["rfilename"] = f }).ToArray()),
            });
            return;
        }
        bool dataset = segments[0] == "datasets";
        var rest = dataset ? segments[1..] : segments;
        if (rest.Length >= 5 && rest[2] == "resolve")
        {
            var found = Find(context, dataset, $"{rest[0]}/{rest[1]}", Uri.UnescapeDataString(rest[3]), token);
            if (found is null) return;
            var file = string.Join('/', rest[4..].Select(Uri.UnescapeDataString));
            if (!found.Value.Repo.Files.TryGetValue(file, out var bytes))
            {
                Refuse(context, 404, "EntryNotFound");
                return;
            }
            context.Response.Headers["X-Repo-Commit"] = found.Value.Commit;
            if (IsLfs(file))
            {
                var sha = Sha256(bytes);
                context.Response.StatusCode = 302;
                // Another host name for the same server, as the CDN is another host than the Hub.
                context.Response.Headers.Location = $"http://localhost:{Endpoint.Port}/cdn/{sha}";
                context.Response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
                context.Response.Headers["X-Linked-Size"] = bytes.Length.ToString();
                context.Response.Headers.ETag = $"\"{GitBlobId(Encoding.ASCII.GetBytes("lfs pointer " + sha))}\"";
                return;
            }
            context.Response.Headers.ETag = $"\"{GitBlobId(bytes)}\"";
            context.Response.ContentLength = bytes.Length;
            if (HttpMethods.IsGet(context.Request.Method)) await context.Response.Body.WriteAsync(bytes);
            return;
        }
        context.Response.StatusCode = 404;
    }

    (Repo Repo, string Commit)? Find(HttpContext context, bool dataset, string id, string revision, bool token)
    {
        if (!repos.TryGetValue(Key(dataset, id), out var repo) || (repo.Gated && !token))
        {
            Refuse(context, 401, repo is null ? "RepoNotFound" : "GatedRepo");
            return null;
        }
        var commit = repo.Refs.GetValueOrDefault(revision) ?? (revision == repo.Commit ? revision : null);
        if (commit is null) Refuse(context, 404, "RevisionNotFound");
        return commit is null ? null : (repo, commit);
    }

    static void Refuse(HttpContext context, int status, string code)
    {
        context.Response.StatusCode = status;
        context.Response.Headers["X-Error-Code"] = code;
        context.Response.Headers["X-Error-Message"] = code switch
        {
            "GatedRepo" => "Access to this model is restricted. You must have access to it and be authenticated to access it.",
            _ => code,
        };
    }

    async Task ServeBlobAsync(HttpContext context, string sha)
    {
        var bytes = repos.Values.SelectMany(r => r.Files.Values).FirstOrDefault(b => Sha256(b) == sha);
        if (bytes is null)
        {
            context.Response.StatusCode = 404;
            return;
        }
        if (Corrupt.ContainsKey(sha))
        {
            bytes = (byte[])bytes.Clone();
            bytes[bytes.Length / 2] ^= 0xFF;
        }
        long from = 0;
        if (context.Request.Headers.Range.FirstOrDefault() is { } range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            from = long.Parse(range["bytes=".Length..].TrimEnd('-'));
            context.Response.StatusCode = 206;
            context.Response.Headers.ContentRange = $"bytes {from}-{bytes.Length - 1}/{bytes.Length}";
        }
        context.Response.ContentLength = bytes.Length - from;
        if (CutOnce.TryRemove(sha, out _))
        {
            await context.Response.Body.WriteAsync(bytes.AsMemory((int)from, (int)(bytes.Length - from) / 2));
            await context.Response.Body.FlushAsync();
            await Task.Delay(200); // let the bytes reach the client before the connection is reset
            context.Abort();
            return;
        }
        await context.Response.Body.WriteAsync(bytes.AsMemory((int)from));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
