using System.Text;
using SharpLM.Hub;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Hub;

/// <summary>The Hub client against <see cref="HubTestServer"/>: the cache it fills is huggingface_hub's layout, what it
/// fetches is what a model needs, and transfers resume, are verified and land atomically.</summary>
public sealed class HubDownloaderTests : IAsyncLifetime
{
    readonly TempDirectory dir = new();
    HubTestServer server = null!;

    public async Task InitializeAsync() => server = await HubTestServer.StartAsync();

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        dir.Dispose();
    }

    string CacheFolder => dir.File("hf/hub");

    HubDownloader Downloader(string? token = null, List<string>? warnings = null, bool offline = false) =>
        new(new HubSettings { Endpoint = server.Endpoint, CacheFolder = CacheFolder, Token = token, Offline = offline })
        {
            Warning = w => warnings?.Add(w),
        };

    /// <summary>The tiny model's files with what a Hub repository also carries and a model does not need.</summary>
    Dictionary<string, byte[]> TinyRepoFiles()
    {
        var files = HubTestServer.FilesOf(TestModels.TinyFolder(dir.File("tiny")));
        files["README.md"] = "# tiny"u8.ToArray();
        files["pytorch_model.bin"] = "pickle"u8.ToArray();
        files["onnx/model.onnx"] = "onnx"u8.ToArray();
        return files;
    }

    [Fact]
    public void ModelFilesLandInHuggingFaceHubsCacheLayoutAndAreReusedWithoutDownloadingAgain()
    {
        var files = TinyRepoFiles();
        var commit = server.AddRepo("org/tiny", files);
        using var hub = Downloader();
        var snapshot = hub.Download(HubRepoId.Parse("org/tiny"), HubFileSelection.Model);

        var repoFolder = Path.Combine(CacheFolder, "models--org--tiny");
        Assert.Equal(Path.Combine(repoFolder, "snapshots", commit), snapshot);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repoFolder, "refs", "main")));
        var fetched = Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json"], fetched);
        foreach (var name in fetched)
        {
            // Relative links into blobs/, named by the Hub's ETag: the SHA-256 for LFS files, the git blob id for the others.
            var bytes = files[name];
            var etag = HubTestServer.IsLfs(name) ? HubTestServer.Sha256(bytes) : HubTestServer.GitBlobId(bytes);
            Assert.Equal($"../../blobs/{etag}", new FileInfo(Path.Combine(snapshot, name)).LinkTarget);
            Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(snapshot, name)));
        }
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(repoFolder, "blobs"), "*.incomplete"));
        Assert.DoesNotContain(server.Requests, r => r.Path.Contains("pytorch_model.bin") || r.Path.Contains("onnx"));
        using (var loaded = PretrainedModel.Load(snapshot))
            Assert.Equal(TestCorpus.Tokenizer.VocabSize, loaded.Model.Config.VocabSize);

        server.Requests.Clear();
        Assert.Equal(snapshot, hub.Download(HubRepoId.Parse("org/tiny"), HubFileSelection.Model));
        Assert.Equal("/api/models/org/tiny/revision/main", Assert.Single(server.Requests).Path); // the commit is asked, files are not
    }

    [Fact]
    public void AShardedModelBringsTheShardsItsIndexNamesAndNoOtherSafetensors()
    {
        using var model = TestModels.Tiny(vocab: TestCorpus.Tokenizer.VocabSize);
        var folder = dir.File("sharded");
        ModelFolder.Save(folder, model, TestCorpus.Tokenizer, options: new ModelSaveOptions { MaxShardBytes = 40_000 });
        var files = HubTestServer.FilesOf(folder);
        var shards = files.Keys.Where(f => f.StartsWith("model-", StringComparison.Ordinal)).ToList();
        Assert.True(shards.Count > 1);
        files["consolidated.safetensors"] = files[shards[0]]; // Mistral's repositories carry their own format beside
        server.AddRepo("org/sharded", files);
        using var hub = Downloader();

        var snapshot = hub.Download(HubRepoId.Parse("org/sharded@main"), HubFileSelection.Model);

        Assert.All(shards, s => Assert.True(File.Exists(Path.Combine(snapshot, s)), s));
        Assert.False(File.Exists(Path.Combine(snapshot, "consolidated.safetensors")));
        using var loaded = PretrainedModel.Load(snapshot);
        Assert.Equal(model.ParameterCount(), loaded.Model.ParameterCount());
    }

    [Fact]
    public async Task AGatedRepositoryNeedsTheTokenWhichGoesToTheHubButNotToTheCdn()
    {
        server.AddRepo("org/gated", TinyRepoFiles(), gated: true);
        using (var anonymous = Downloader())
        {
            var refused = await Assert.ThrowsAsync<HubException>(() => anonymous.DownloadAsync(HubRepoId.Parse("org/gated"), HubFileSelection.Model));
            Assert.Equal(HubFailure.AccessDenied, refused.Failure);
            Assert.Contains("HubSettings.Token", refused.Message);
            Assert.Contains("restricted", refused.Message); // the Hub's own X-Error-Message
        }
        using var withToken = Downloader(HubTestServer.GoodToken);
        var snapshot = await withToken.DownloadAsync(HubRepoId.Parse("org/gated"), HubFileSelection.Model);

        Assert.True(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        Assert.All(server.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)), r => Assert.False(r.Token));
        Assert.All(server.Requests.Where(r => r.Path.Contains("/resolve/")), r => Assert.True(r.Token));
    }

    [Fact]
    public async Task UnknownRepositoriesRevisionsAndPickleOnlyWeightsAreRefusedClearly()
    {
        server.AddRepo("org/tiny", TinyRepoFiles());
        server.AddRepo("org/pickled", new() { ["config.json"] = "{}"u8.ToArray(), ["pytorch_model.bin"] = "pickle"u8.ToArray() });
        using var hub = Downloader();

        var unknown = await Assert.ThrowsAsync<HubException>(() => hub.DownloadAsync(HubRepoId.Parse("org/nothing"), HubFileSelection.Model));
        Assert.Equal(HubFailure.AccessDenied, unknown.Failure); // the Hub does not tell an anonymous caller which private names exist
        var revision = await Assert.ThrowsAsync<HubException>(() => hub.DownloadAsync(HubRepoId.Parse("org/tiny@v9"), HubFileSelection.Model));
        Assert.Equal(HubFailure.NotFound, revision.Failure);
        Assert.Contains("org/tiny@v9", revision.Message);
        var pickled = await Assert.ThrowsAsync<HubException>(() => hub.DownloadAsync(HubRepoId.Parse("org/pickled"), HubFileSelection.Model));
        Assert.Equal(HubFailure.Unsupported, pickled.Failure);
        Assert.Contains("pytorch_model.bin", pickled.Message);
        Assert.Contains("safetensors", pickled.Message);
        Assert.DoesNotContain(server.Requests, r => r.Path.Contains("pytorch_model.bin"));
    }

    [Fact]
    public void AnInterruptedTransferIsResumedFromWhereItBroke()
    {
        var files = TinyRepoFiles();
        server.AddRepo("org/tiny", files);
        var weights = files["model.safetensors"];
        var sha = HubTestServer.Sha256(weights);
        server.CutOnce[sha] = true;
        var warnings = new List<string>();
        using var hub = Downloader(warnings: warnings);

        var snapshot = hub.Download(HubRepoId.Parse("org/tiny"), HubFileSelection.Model);

        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var transfers = server.Requests.Where(r => r.Path == $"/cdn/{sha}").ToList();
        Assert.Equal(2, transfers.Count);
        Assert.Null(transfers[0].Range);
        // The second asks for the rest from where the first broke off (at most halfway: the server cut it there).
        long resumedAt = long.Parse(transfers[1].Range!["bytes=".Length..].TrimEnd('-'));
        Assert.InRange(resumedAt, 1, weights.Length / 2);
        Assert.Contains(warnings, w => w.Contains("resuming"));
    }

    [Fact]
    public void APartialFileLeftByAnEarlierRunIsResumedNotFetchedAgain()
    {
        var files = TinyRepoFiles();
        server.AddRepo("org/tiny", files);
        var weights = files["model.safetensors"];
        var sha = HubTestServer.Sha256(weights);
        var blobs = Path.Combine(CacheFolder, "models--org--tiny", "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, sha + ".incomplete"), weights[..1000]);
        using var hub = Downloader();

        var snapshot = hub.Download(HubRepoId.Parse("org/tiny"), HubFileSelection.Model);

        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Equal("bytes=1000-", Assert.Single(server.Requests, r => r.Path == $"/cdn/{sha}").Range);
        Assert.False(File.Exists(Path.Combine(blobs, sha + ".incomplete")));
    }

    [Fact]
    public async Task BytesThatDoNotMatchTheirSha256AreDiscardedAndNothingIsCached()
    {
        var files = TinyRepoFiles();
        server.AddRepo("org/tiny", files);
        var sha = HubTestServer.Sha256(files["model.safetensors"]);
        server.Corrupt[sha] = true;
        using var hub = Downloader();

        var corrupt = await Assert.ThrowsAsync<HubException>(() => hub.DownloadAsync(HubRepoId.Parse("org/tiny"), HubFileSelection.Model));

        Assert.Equal(HubFailure.Corrupt, corrupt.Failure);
        Assert.Contains(sha, corrupt.Message);
        var repoFolder = Path.Combine(CacheFolder, "models--org--tiny");
        Assert.False(File.Exists(Path.Combine(repoFolder, "blobs", sha)));
        Assert.False(File.Exists(Path.Combine(repoFolder, "blobs", sha + ".incomplete")));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(repoFolder, "snapshots"), "model.safetensors", SearchOption.AllDirectories));
    }

    /// <summary>A cache as huggingface_hub leaves it (blobs, refs/main, relative snapshot links), read offline with no server
    /// asked; and when the Hub cannot be reached, the cache is used with a warning.</summary>
    [Fact]
    public async Task ACacheFilledByPythonToolsIsUsedOfflineAndWhenTheHubIsUnreachable()
    {
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        var repoFolder = Path.Combine(CacheFolder, "models--python--tiny");
        var snapshotFolder = Path.Combine(repoFolder, "snapshots", commit);
        Directory.CreateDirectory(snapshotFolder);
        Directory.CreateDirectory(Path.Combine(repoFolder, "blobs"));
        Directory.CreateDirectory(Path.Combine(repoFolder, "refs"));
        File.WriteAllText(Path.Combine(repoFolder, "refs", "main"), commit);
        foreach (var (name, bytes) in HubTestServer.FilesOf(TestModels.TinyFolder(dir.File("tiny"))))
        {
            var etag = HubTestServer.IsLfs(name) ? HubTestServer.Sha256(bytes) : HubTestServer.GitBlobId(bytes);
            File.WriteAllBytes(Path.Combine(repoFolder, "blobs", etag), bytes);
            File.CreateSymbolicLink(Path.Combine(snapshotFolder, name), $"../../blobs/{etag}");
        }
        using (var offline = Downloader(offline: true))
        {
            Assert.Equal(snapshotFolder, await offline.DownloadAsync(HubRepoId.Parse("python/tiny"), HubFileSelection.Model));
            Assert.Equal(snapshotFolder, await offline.DownloadAsync(HubRepoId.Parse($"python/tiny@{commit}"), HubFileSelection.Model));
            var missing = await Assert.ThrowsAsync<HubException>(
                () => offline.DownloadAsync(HubRepoId.Parse("python/other"), HubFileSelection.Model));
            Assert.Equal(HubFailure.NotCached, missing.Failure);
            Assert.Contains("HubSettings.Offline", missing.Message);
        }
        Assert.Empty(server.Requests);

        var warnings = new List<string>();
        var closedPort = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closedPort.Start();
        var unreachable = new Uri($"http://127.0.0.1:{((System.Net.IPEndPoint)closedPort.LocalEndpoint).Port}");
        closedPort.Stop();
        using var cut = new HubDownloader(new HubSettings { Endpoint = unreachable, CacheFolder = CacheFolder }) { Warning = warnings.Add };
        Assert.Equal(snapshotFolder, await cut.DownloadAsync(HubRepoId.Parse("python/tiny"), HubFileSelection.Model));
        Assert.Contains(warnings, w => w.Contains("could not reach") && w.Contains(snapshotFolder));
    }

    [Fact]
    public void ADatasetsSplitComesFromItsDatasetsFolderAndUrl()
    {
        server.AddRepo("org/data", new()
        {
            ["README.md"] = "# data"u8.ToArray(),
            ["data/train-00000-of-00001.parquet"] = Encoding.UTF8.GetBytes("train parquet"),
            ["data/test-00000-of-00001.parquet"] = Encoding.UTF8.GetBytes("test parquet"),
            ["extra/train.jsonl"] = Encoding.UTF8.GetBytes("{\"text\": \"a\"}\n"),
        }, dataset: true);
        using var hub = Downloader();

        var snapshot = hub.Download(HubRepoId.Parse("org/data", HubRepoType.Dataset), HubFileSelection.Dataset("train"));

        Assert.StartsWith(Path.Combine(CacheFolder, "datasets--org--data", "snapshots"), snapshot);
        var fetched = Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(snapshot, f)).Order(StringComparer.Ordinal);
        Assert.Equal(["data/train-00000-of-00001.parquet", "extra/train.jsonl"], fetched);
        Assert.Equal("../../../blobs/" + HubTestServer.GitBlobId(Encoding.UTF8.GetBytes("{\"text\": \"a\"}\n")),
            new FileInfo(Path.Combine(snapshot, "extra/train.jsonl")).LinkTarget);
        Assert.Contains(server.Requests, r => r.Path == "/api/datasets/org/data/revision/main");
        Assert.All(server.Requests.Where(r => r.Path.Contains("/resolve/")), r => Assert.StartsWith("/datasets/org/data/", r.Path));
    }

    [Theory]
    [InlineData("org/name", "org/name", "main")]
    [InlineData("HuggingFaceTB/SmolLM2-135M-Instruct@v1.0", "HuggingFaceTB/SmolLM2-135M-Instruct", "v1.0")]
    [InlineData("org/name@refs/pr/1", "org/name", "refs/pr/1")]
    [InlineData("runs/demo/final", null, null)]
    [InlineData("name", null, null)]
    [InlineData("org/name@../../etc", null, null)]
    [InlineData("org/na--me", null, null)]
    [InlineData("/abs/path", null, null)]
    public void RepositoryIdsAreOrgSlashNameWithAnOptionalSafeRevision(string text, string? id, string? revision)
    {
        bool parsed = HubRepoId.TryParse(text, HubRepoType.Model, out var repo);
        Assert.Equal(id is not null, parsed);
        if (!parsed) return;
        Assert.Equal(id, repo.Id);
        Assert.Equal(revision, repo.Revision);
    }
}
