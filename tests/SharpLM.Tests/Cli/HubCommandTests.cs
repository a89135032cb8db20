using System.Text.Json.Nodes;
using SharpLM.Cli;
using SharpLM.Tests.Hub;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>Hub ids on the command line, through a local Hub that HF_ENDPOINT points at: `download` prints the snapshot,
/// `finetune --model org/name --data org/data:train` trains on what it fetched and names both in its adapter and model
/// card, and with HF_HUB_OFFLINE=1 `generate` runs the Hub model and the adapter (whose base is a Hub id) from the cache.</summary>
[Collection(CliCollection.Name)]
public sealed class HubCommandTests : IAsyncLifetime
{
    static readonly string[] Variables = ["HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE"];

    readonly TempDirectory dir = new();
    readonly Dictionary<string, string?> saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
    HubTestServer server = null!;

    public async Task InitializeAsync()
    {
        server = await HubTestServer.StartAsync();
        foreach (var variable in Variables) Environment.SetEnvironmentVariable(variable, null);
        Environment.SetEnvironmentVariable("HF_ENDPOINT", server.Endpoint.ToString());
        Environment.SetEnvironmentVariable("HF_HOME", dir.File("hf"));
    }

    public async Task DisposeAsync()
    {
        foreach (var (variable, value) in saved) Environment.SetEnvironmentVariable(variable, value);
        await server.DisposeAsync();
        dir.Dispose();
    }

    static (int Code, string Out, string Err) Run(params string[] args) =>
        ConsoleCapture.Run(() => CommandRunner.Invoke(CliRoot.Create(), args));

    [Fact]
    public void DownloadFinetuneAndGenerateTakeHubIdsAndRunOfflineFromTheCache()
    {
        var commit = server.AddRepo("org/tiny", HubTestServer.FilesOf(TestModels.TinyFolder(dir.File("tiny"))));
        var chats = string.Join("\n", Enumerable.Range(0, 16).Select(i => new JsonObject
        {
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "user", ["content"] = $"say {i}" },
                new JsonObject { ["role"] = "assistant", ["content"] = $"{i}" }),
        }.ToJsonString()));
        server.AddRepo("org/chats", new()
        {
            ["data/train.jsonl"] = System.Text.Encoding.UTF8.GetBytes(chats),
            ["data/test.jsonl"] = "not json"u8.ToArray(), // read only if the split were ignored
        }, dataset: true);

        var (code, stdout, stderr) = Run("download", "org/tiny");
        Assert.True(code == 0, stderr);
        var snapshot = Path.Combine(dir.File("hf"), "hub", "models--org--tiny", "snapshots", commit);
        Assert.Equal(snapshot, stdout.Trim());
        Assert.True(File.Exists(Path.Combine(snapshot, "model.safetensors")));

        var lora = dir.File("lora");
        (code, _, stderr) = Run("finetune", "--model", "org/tiny", "--data", "org/chats:train", "--method", "lora", "--output", lora,
            "--max-steps", "1", "--batch-size", "4", "--max-length", "160", "--exact-match", "0", "--precision", "Fp32");
        Assert.True(code == 0, stderr);
        var final = Path.Combine(lora, "final");
        var adapterConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(final, "adapter_config.json")))!;
        Assert.Equal("org/tiny", (string?)adapterConfig["base_model_name_or_path"]);
        var card = File.ReadAllText(Path.Combine(final, "README.md"));
        Assert.Contains("base_model: \"org/tiny\"", card);
        Assert.Contains("- \"org/chats\"", card);
        Assert.DoesNotContain(server.Requests, r => r.Path.EndsWith("test.jsonl", StringComparison.Ordinal));

        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        server.Requests.Clear();
        foreach (var model in new[] { "org/tiny", final })
        {
            (code, stdout, stderr) = Run("generate", "--model", model, "--prompt", "say", "--max-tokens", "3", "--greedy");
            Assert.True(code == 0, stderr);
            Assert.NotEmpty(stdout.Trim());
        }
        var gguf = dir.File("lora.gguf"); // the adapter merged into its Hub base, found in the cache
        (code, _, stderr) = Run("export", "--format", "gguf", "--model", final, "--output", gguf);
        Assert.True(code == 0, stderr);
        Assert.True(new FileInfo(gguf).Length > 0);
        (code, _, stderr) = Run("generate", "--model", "org/elsewhere", "--prompt", "say");
        Assert.Equal(1, code);
        Assert.Contains("HF_HUB_OFFLINE", stderr);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public void AGatedModelAsksForHfTokenAndALocalFolderWinsOverTheHub()
    {
        server.AddRepo("org/gated", HubTestServer.FilesOf(TestModels.TinyFolder(dir.File("gated"))), gated: true);

        var (code, _, stderr) = Run("download", "org/gated");
        Assert.Equal(1, code);
        Assert.Contains("HF_TOKEN", stderr);
        Assert.DoesNotContain("HubSettings", stderr);

        Environment.SetEnvironmentVariable("HF_TOKEN", HubTestServer.GoodToken);
        (code, var stdout, stderr) = Run("download", "org/gated", "--include", "*.json");
        Assert.True(code == 0, stderr);
        Assert.False(File.Exists(Path.Combine(stdout.Trim(), "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(stdout.Trim(), "config.json")));

        // A folder named like an id is what the user means: the Hub is not asked.
        Directory.CreateDirectory(dir.File("org"));
        TestModels.TinyFolder(dir.File("org/local"));
        server.Requests.Clear();
        var cwd = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = dir.Path;
            (code, _, stderr) = Run("generate", "--model", "org/local", "--prompt", "say", "--max-tokens", "2", "--greedy");
        }
        finally
        {
            Environment.CurrentDirectory = cwd;
        }
        Assert.True(code == 0, stderr);
        Assert.Empty(server.Requests);
    }
}
