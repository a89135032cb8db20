using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SharpLM.Generation;

namespace SharpLM.Cli.Serving;

/// <summary>Where and how <see cref="ModelServer"/> listens.</summary>
/// <param name="Host">Address to bind: 127.0.0.1 (this machine only, the default) or 0.0.0.0 (the network).</param>
/// <param name="Port">TCP port; 0 picks a free one (see <see cref="ModelServer.Address"/>).</param>
/// <param name="ApiKey">When set, every <c>/v1</c> request must send <c>Authorization: Bearer ApiKey</c>.</param>
/// <param name="Log">Receives one line per request (status, tokens, speed).</param>
/// <param name="Limits">What one request may ask (default: <see cref="ServeLimits"/>' defaults).</param>
/// <param name="AcceptAnyModel">Answer whatever <c>model</c> a request names, instead of 404 for any but the one served.</param>
sealed record ServeOptions(string Host = "127.0.0.1", int Port = 8080, string? ApiKey = null, Action<string>? Log = null,
    ServeLimits? Limits = null, bool AcceptAnyModel = false);

/// <summary>
/// An HTTP server with OpenAI's API shape, so the OpenAI SDKs, Microsoft.Extensions.AI, LangChain, curl and chat
/// front-ends can use a SharpLM model: <c>POST /v1/chat/completions</c>, <c>POST /v1/completions</c> (both with
/// <c>"stream": true</c> as server-sent events), <c>GET /v1/models</c> and <c>GET /health</c>; <c>GET /</c> is a chat
/// page (chat.html) for trying the model in a browser.
/// </summary>
sealed class ModelServer : IAsyncDisposable
{
    // Readable JSON ("quotes" rather than \u0022): the bodies are API responses, never embedded in HTML.
    static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly Lazy<string> ChatPage = new(() =>
    {
        using var stream = typeof(ModelServer).Assembly.GetManifestResourceStream("SharpLM.Cli.Serving.chat.html")!;
        return new StreamReader(stream).ReadToEnd();
    });
    // Each endpoint and the methods it answers: another method gets 405, an unknown path 404.
    static readonly Dictionary<string, string> Endpoints = new()
    {
        ["/"] = "GET", ["/health"] = "GET", ["/v1/models"] = "GET", ["/v1/chat/completions"] = "POST", ["/v1/completions"] = "POST",
    };
    readonly WebApplication app;
    readonly ServedModel model;
    readonly ServeOptions options;
    readonly ServeLimits limits;

    ModelServer(WebApplication app, ServedModel model, ServeOptions options) =>
        (this.app, this.model, this.options, limits) = (app, model, options, options.Limits ?? new ServeLimits());

    /// <summary>The address it listens on, e.g. <c>http://127.0.0.1:8080</c>.</summary>
    public Uri Address => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public static async Task<ModelServer> StartAsync(ServedModel model, ServeOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders(); // one line per request from Log instead of the framework's info logs
        builder.WebHost.UseUrls($"http://{(options.Host.Contains(':') ? $"[{options.Host}]" : options.Host)}:{options.Port}");
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = (options.Limits ?? new ServeLimits()).MaxRequestBytes);
        var server = new ModelServer(builder.Build(), model, options);
        server.Map();
        await server.app.StartAsync();
        return server;
    }

    /// <summary>Completes when the server stops (Ctrl+C or SIGTERM).</summary>
    public Task WaitForShutdownAsync() => app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    void Map()
    {
        app.Use(async (http, next) =>
        {
            try
            {
                if (options.ApiKey is { } key && http.Request.Path.StartsWithSegments("/v1")
                    && !KeyMatches(http.Request.Headers.Authorization.ToString(), key))
                    throw new ApiError(401, "missing or wrong API key: send the header \"Authorization: Bearer <key>\" " +
                                            "with the key given to sharplm serve", type: "authentication_error");
                await next(http);
            }
            catch (ApiError e) when (!http.Response.HasStarted)
            {
                await Fail(http, e);
            }
            catch (BadHttpRequestException e) when (!http.Response.HasStarted)
            {
                // Kestrel's refusals while reading the body: past the size limit (413), malformed chunks (400).
                await Fail(http, new ApiError(e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? $"the request body is larger than this server accepts ({limits.MaxRequestBytes} bytes)"
                    : $"the request could not be read: {e.Message}"));
            }
            catch (Exception e) when (http.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
            {
                options.Log?.Invoke($"{http.Request.Method} {http.Request.Path}: the client closed the connection; its generation stopped");
            }
            catch (Exception e) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested)
            {
                // A failure of SharpLM itself: say so in the answer and the log rather than an empty 500.
                await Fail(http, new ApiError(500, $"the server failed: {e.GetType().Name}: {e.Message}", type: "server_error"));
            }
        });
        app.MapGet("/", () => Results.Content(ChatPage.Value, "text/html; charset=utf-8"));
        app.MapGet("/health", () => Results.Json(new { status = "ok" }, Json));
        app.MapGet("/v1/models", () => Results.Json(new
        {
            @object = "list",
            data = new[] { new { id = model.Name, @object = "model", created = 0L, owned_by = "sharplm", context_length = model.ContextLength } },
        }, Json));
        app.MapPost("/v1/chat/completions", http => Complete(http, chat: true));
        app.MapPost("/v1/completions", http => Complete(http, chat: false));
        app.MapFallback(http =>
        {
            const string offered = "this server offers POST /v1/chat/completions, POST /v1/completions, GET /v1/models, " +
                                   "GET /health and a chat page at GET /";
            if (Endpoints.TryGetValue(http.Request.Path.Value?.TrimEnd('/') is { Length: > 0 } p ? p : "/", out var method))
            {
                http.Response.Headers.Allow = method;
                throw new ApiError(405, $"{http.Request.Path} answers {method}, not {http.Request.Method}", type: "invalid_request_error");
            }
            throw new ApiError(404, $"no endpoint {http.Request.Method} {http.Request.Path}: {offered}", type: "not_found_error");
        });
    }

    /// <summary>Compares in constant time, so response timing does not reveal how much of a guessed key was right.</summary>
    static bool KeyMatches(string authorization, string key) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(authorization), Encoding.UTF8.GetBytes("Bearer " + key));

    async Task Fail(HttpContext http, ApiError e)
    {
        options.Log?.Invoke($"{http.Request.Method} {http.Request.Path} -> {e.Status}: {e.Message}");
        http.Response.StatusCode = e.Status;
        await http.Response.WriteAsJsonAsync(new { error = new { message = e.Message, type = e.Type, param = e.Param, code = e.Code } }, Json);
    }

    async Task Complete(HttpContext http, bool chat)
    {
        using var body = await ReadJson(http);
        RequestText.Check(body.RootElement);
        CheckModel(body.RootElement);
        var request = chat ? OpenAiRequestReader.ReadChat(body.RootElement, model, limits, http.RequestAborted)
            : OpenAiRequestReader.ReadCompletion(body.RootElement, model, limits);
        var (stream, includeUsage) = OpenAiRequestReader.ReadStreaming(body.RootElement);
        var response = new CompletionResponse(chat, model.Name);
        GenerationResult result;
        if (stream)
        {
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            if (chat) await SendEvent(http, response.Chunk(new { role = "assistant", content = "" }, null));
            result = await model.GenerateAsync(request,
                piece => SendEvent(http, chat ? response.Chunk(new { content = piece }, null) : response.Chunk(piece, null)),
                http.RequestAborted);
            await SendEvent(http, chat ? response.Chunk(new { }, result.FinishReason) : response.Chunk("", result.FinishReason));
            if (includeUsage) await SendEvent(http, response.UsageChunk(result));
            await http.Response.WriteAsync("data: [DONE]\n\n");
        }
        else
        {
            result = await model.GenerateAsync(request, _ => Task.CompletedTask, http.RequestAborted);
            await http.Response.WriteAsJsonAsync(response.Whole(result), Json);
        }
        options.Log?.Invoke($"{http.Request.Method} {http.Request.Path} -> 200: prompt {result.PromptTokens} tokens, " +
            $"{result.CompletionTokens} generated in {result.Elapsed.TotalSeconds:F2} s " +
            $"({result.CompletionTokens / Math.Max(result.Elapsed.TotalSeconds, 1e-9):F1} tok/s), " +
            $"finish {result.FinishReason}{(stream ? ", streamed" : "")}");
    }

    /// <summary>As vLLM: a request for another model is a 404 unless the server accepts any name.</summary>
    void CheckModel(JsonElement body)
    {
        if (options.AcceptAnyModel || body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("model", out var m)
            || m.ValueKind == JsonValueKind.Null)
            return;
        if (m.ValueKind != JsonValueKind.String) throw ApiError.BadRequest("model must be a string", "model");
        if (m.GetString() is var name && name != model.Name)
            throw new ApiError(404, $"the model \"{name}\" does not exist: this server serves \"{model.Name}\"", "model", code: "model_not_found");
    }

    static async Task<JsonDocument> ReadJson(HttpContext http)
    {
        try
        {
            return await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
        }
        catch (JsonException e)
        {
            throw ApiError.BadRequest($"the request body is not valid JSON: {e.Message}");
        }
    }

    static async Task SendEvent(HttpContext http, object data)
    {
        await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(data, Json)}\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }
}
