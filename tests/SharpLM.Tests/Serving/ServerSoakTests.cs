using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.Chat;
using SharpLM.Cli.Serving;
using SharpLM.Hub;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Serving;

/// <summary>
/// Four seconds of hostile traffic on loopback: 8 clients at once streaming answers, hanging up mid-answer and sending
/// bad requests. The server must answer /health throughout, answer every bad request with a 4xx in OpenAI's error
/// shape, and give its memory back afterwards.
/// </summary>
[Collection(MeasuredAloneCollection.Name)]
public sealed class ServerSoakTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    // A model's own Jinja template with a bomb a request can set off through chat_template_kwargs.
    const string Template = "{% if boom is defined %}{{ 'x' * boom }}{% endif %}" +
        "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}" +
        "{% if add_generation_prompt %}<|assistant|>{% endif %}";

    static readonly string[] BadRequests =
    [
        """{"messages": [{"role": "user", "content": "hi"}""",
        """{"model": "other", "messages": [{"role": "user", "content": "hi"}]}""",
        """{"messages": [{"role": "user", "content": "hi\ud800"}]}""",
        """{"messages": [{"role": "user", "content": "hi"}], "chat_template_kwargs": {"boom": 1000000000}}""",
        """{"messages": [{"role": "user", "content": "hi"}], "top_p": 5}""",
        """{"messages": []}""",
    ];

    readonly TempDirectory dir = new();
    PretrainedModel loaded = null!;
    ServedModel served = null!;
    ModelServer server = null!;
    readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public async Task InitializeAsync()
    {
        var tokenizer = TestCorpus.Tokenizer;
        using (var model = TestModels.Tiny(vocab: tokenizer.VocabSize, seed: 3))
            ModelFolder.Save(dir.File("model"), model, tokenizer);
        loaded = PretrainedModel.Load(dir.File("model"));
        dir.Write("template/tokenizer_config.json", new JsonObject { ["chat_template"] = Template, ["eos_token"] = "</s>" }.ToJsonString());
        var template = ChatTemplates.LoadFromModel(dir.File("template"))!;
        served = new ServedModel(loaded, template, loaded.Generation.ToSamplingOptions() with { MaxNewTokens = 8 }, "soak");
        server = await ModelServer.StartAsync(served, new ServeOptions(Port: 0));
        http.BaseAddress = server.Address;
        Assert.Equal("127.0.0.1", server.Address.Host);
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        http.Dispose();
        served.Dispose();
        loaded.Dispose();
        dir.Dispose();
    }

    static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    static string Chat(int i) =>
        $$"""{"model": "soak", "messages": [{"role": "user", "content": "the old house {{i}}"}], "stream": true, "temperature": 0}""";

    async Task StreamWhole(int i)
    {
        using var response = await http.PostAsync("v1/chat/completions", Json(Chat(i)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("data: [DONE]\n\n", await response.Content.ReadAsStringAsync());
    }

    async Task HangUp(int i)
    {
        using var cancel = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json(Chat(i)) };
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            var stream = await response.Content.ReadAsStreamAsync(cancel.Token);
            _ = await stream.ReadAsync(new byte[16], cancel.Token); // some of the first event, whatever arrived
            cancel.Cancel(); // the client goes away mid-answer
        }
        catch (OperationCanceledException) { }
    }

    async Task Bad(int i)
    {
        var json = BadRequests[i % BadRequests.Length];
        using var response = await http.PostAsync("v1/chat/completions", Json(json));
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{json} -> {response.StatusCode}");
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _) && error.TryGetProperty("code", out _));
    }

    readonly int[] done = new int[3]; // whole streams, hang-ups, bad requests answered with a 4xx

    async Task Round(int client, int step)
    {
        int i = client * 1000 + step, kind = (client + step) % 3;
        await (kind switch { 0 => StreamWhole(i), 1 => HangUp(i), _ => Bad(i) });
        Interlocked.Increment(ref done[kind]);
    }

    [Fact]
    public void AClientThatGoesAwayStopsItsTemplateRender()
    {
        using var body = JsonDocument.Parse("""{"messages": [{"role": "user", "content": "hi"}]}""");
        using var gone = new CancellationTokenSource();
        gone.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => OpenAiRequestReader.ReadChat(body.RootElement, served, cancel: gone.Token));
        Assert.NotEmpty(OpenAiRequestReader.ReadChat(body.RootElement, served).Prompt);
    }

    [Fact]
    public async Task ATemplateThatHitsABoundIsA400NamingTheFileAndTheBound()
    {
        using var response = await http.PostAsync("v1/chat/completions", Json(BadRequests[3]));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("messages", error.GetProperty("param").GetString());
        Assert.Matches(
            @"tokenizer_config\.json: the chat_template was stopped at a limit: line 1: .* longer than 1000000 \(JinjaLimits\.MaxOutputChars\)",
            error.GetProperty("message").GetString());
        await StreamWhole(0);
    }

    static (long Managed, long WorkingSet) Memory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), process.WorkingSet64);
    }

    [Fact]
    public async Task EightHostileClientsLeaveTheServerHealthyAndItsMemoryNearBaseline()
    {
        for (int step = 0; step < 3; step++) await Round(0, step); // warm up: JIT, pools
        Array.Clear(done);
        var baseline = Memory();

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(4);
        int rounds = 0, healthChecks = 0;
        var clients = Enumerable.Range(0, 8).Select(client => Task.Run(async () =>
        {
            for (int step = 0; DateTime.UtcNow < until; step++)
            {
                await Round(client, step);
                Interlocked.Increment(ref rounds);
            }
        }));
        var health = Task.Run(async () =>
        {
            using var probe = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(5) };
            while (DateTime.UtcNow < until)
            {
                Assert.Equal("""{"status":"ok"}""", await probe.GetStringAsync("health"));
                healthChecks++;
                await Task.Delay(50);
            }
        });
        await Task.WhenAll([.. clients, health]);

        output.WriteLine($"{rounds} requests in 4 s from 8 clients: {done[0]} whole streams, {done[1]} hang-ups mid-answer, " +
                         $"{done[2]} bad requests (all 4xx); {healthChecks} health checks answered");
        Assert.True(rounds >= 24, $"only {rounds} requests in the soak");
        Assert.True(healthChecks >= 10, $"only {healthChecks} health checks answered");
        await StreamWhole(1); // still serving
        var after = Memory();
        output.WriteLine($"memory after: managed {(after.Managed - baseline.Managed) / 1e6:+0.0;-0.0} MB, " +
                         $"working set {(after.WorkingSet - baseline.WorkingSet) / 1e6:+0.0;-0.0} MB");
        Assert.True(after.Managed < baseline.Managed + 64L * 1024 * 1024, $"managed memory grew from {baseline.Managed} to {after.Managed}");
        Assert.True(after.WorkingSet < baseline.WorkingSet + 512L * 1024 * 1024,
            $"working set grew from {baseline.WorkingSet} to {after.WorkingSet}");
    }
}
