using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using SharpLM.Chat;
using SharpLM.Cli.Commands;
using SharpLM.Cli.Serving;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Tests.Tokenization;
using Xunit;
using ChatMessage = SharpLM.Chat.ChatMessage;

namespace SharpLM.Tests.Serving;

/// <summary>A tiny model with a BPE tokenizer behind a running <see cref="ModelServer"/> on a free port, with an API key.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string Key = "test-key";
    readonly TempDirectory dir = new();
    ModelServer? server;

    public PretrainedModel Loaded { get; private set; } = null!;
    internal ServedModel Served { get; private set; } = null!;
    public HttpClient Http { get; } = new();
    public List<string> Log { get; } = [];
    public Uri Address => server!.Address;

    public async Task InitializeAsync()
    {
        var tokenizer = TestCorpus.Tokenizer;
        using (var model = TestModels.Tiny(vocab: tokenizer.VocabSize, seed: 3))
            ModelFolder.Save(dir.Path, model, tokenizer);
        Loaded = PretrainedModel.Load(dir.Path);
        Served = new ServedModel(Loaded, ChatTemplates.Default, Loaded.Generation.ToSamplingOptions() with { MaxNewTokens = 12 }, "tiny");
        server = await ModelServer.StartAsync(Served, new ServeOptions(Port: 0, ApiKey: Key, Log: line => { lock (Log) Log.Add(line); }));
        Http.BaseAddress = server.Address;
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
    }

    public async Task DisposeAsync()
    {
        if (server is not null) await server.DisposeAsync();
        Http.Dispose();
        Served.Dispose();
        Loaded.Dispose();
        dir.Dispose();
    }
}

public sealed class ModelServerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    const string Question = "the old house by the river";

    /// <summary>What the model says greedily, computed without the server.</summary>
    (string Text, int PromptTokens, int Generated, StopReason Reason) DirectGreedy(int[] prompt, IReadOnlyList<string> stops, int maxTokens)
    {
        var loaded = fixture.Loaded;
        var generator = new TokenGenerator(loaded.Model);
        var text = new StreamingText(loaded.Tokenizer, stops);
        int count = 0;
        foreach (var id in generator.Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = maxTokens }, loaded.StopTokens()))
        {
            count++;
            text.Push(id);
            if (text.Stopped) break;
        }
        text.Flush();
        return (text.Text, prompt.Length, count, text.Stopped ? StopReason.StopString : generator.LastStopReason!.Value);
    }

    (string Text, int PromptTokens, int Generated, StopReason Reason) DirectChat(string question, int maxTokens) =>
        DirectGreedy(ChatTemplates.Default.RenderPrompt(fixture.Loaded.Tokenizer, [new ChatMessage(ChatMessage.UserRole, question)]),
            ChatTemplates.Default.StopStrings, maxTokens);

    async Task<(HttpStatusCode Status, JsonElement Body)> Post(string path, string json, bool authorised = true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (!authorised) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        using var response = await fixture.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    static string ChatBody(string question, int maxTokens, string extra = "") =>
        $$"""{"model": "tiny", "messages": [{"role": "user", "content": {{JsonSerializer.Serialize(question)}}}],""" +
        $$""" "temperature": 0, "max_tokens": {{maxTokens}}{{extra}}}""";

    [Fact]
    public async Task ChatCompletionIsTheModelsGreedyAnswerWithUsage()
    {
        var expected = DirectChat(Question, 10);
        Assert.NotEmpty(expected.Text);
        var (status, body) = await Post("v1/chat/completions", ChatBody(Question, 10));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal("tiny", body.GetProperty("model").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(expected.Text, choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(expected.Reason is StopReason.MaxTokens ? "length" : "stop", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(expected.PromptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.Generated, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(expected.PromptTokens + expected.Generated, usage.GetProperty("total_tokens").GetInt32());
        Assert.Contains(fixture.Log, l => l.Contains("POST /v1/chat/completions -> 200") && l.Contains($"prompt {expected.PromptTokens} tokens"));
    }

    [Fact]
    public async Task StreamedChunksJoinToTheWholeAnswerThenUsageThenDone()
    {
        var whole = (await Post("v1/chat/completions", ChatBody(Question, 12))).Body;
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent(ChatBody(Question, 12, """, "stream": true, "stream_options": {"include_usage": true}"""),
                Encoding.UTF8, "application/json"),
        };
        using var response = await fixture.Http.SendAsync(request);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);

        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var content = string.Concat(chunks.SkipLast(1).Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Select(d => d.TryGetProperty("content", out var t) ? t.GetString() : ""));
        Assert.Equal(whole.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), content);
        Assert.Equal(whole.GetProperty("choices")[0].GetProperty("finish_reason").GetString(),
            chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, chunks[^1].GetProperty("choices").GetArrayLength());
        Assert.Equal(whole.GetProperty("usage").GetRawText(), chunks[^1].GetProperty("usage").GetRawText());
    }

    [Fact]
    public async Task CompletionContinuesPlainTextAndEndsAtAStopString()
    {
        var prompt = fixture.Loaded.EncodePrompt(Question);
        var expected = DirectGreedy(prompt, [], 16);
        var body = (await Post("v1/completions", $$"""{"prompt": "{{Question}}", "temperature": 0, "max_tokens": 16}""")).Body;
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());

        Assert.True(expected.Text.Length >= 6, $"the tiny model's continuation is too short for this test: \"{expected.Text}\"");
        var stop = expected.Text[3..5];
        var stopped = (await Post("v1/completions",
            $$"""{"prompt": ["{{Question}}"], "temperature": 0, "max_tokens": 16, "stop": {{JsonSerializer.Serialize(stop)}}}""")).Body;
        Assert.Equal(expected.Text[..expected.Text.IndexOf(stop, StringComparison.Ordinal)],
            stopped.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("stop", stopped.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task SampledAnswersRepeatWithTheSameSeed()
    {
        async Task<string> Sample(int seed) => (await Post("v1/completions",
            $$"""{"prompt": "{{Question}}", "temperature": 1.5, "top_k": 0, "max_tokens": 12, "seed": {{seed}}}"""))
            .Body.GetProperty("choices")[0].GetProperty("text").GetString()!;

        var first = await Sample(7);
        Assert.Equal(first, await Sample(7));
        var others = new[] { await Sample(8), await Sample(9), await Sample(10) };
        Assert.Contains(others, o => o != first);
    }

    [Fact]
    public async Task ConcurrentRequestsGetTheirOwnAnswers()
    {
        var questions = new[] { Question, "a ship on the sea", Question, "the winter night" };
        var answers = await Task.WhenAll(questions.Select(q => Post("v1/chat/completions", ChatBody(q, 8))));
        for (int i = 0; i < questions.Length; i++)
        {
            Assert.Equal(HttpStatusCode.OK, answers[i].Status);
            Assert.Equal(DirectChat(questions[i], 8).Text,
                answers[i].Body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        }
    }

    [Fact]
    public async Task TheOfficialOpenAiClientThroughMicrosoftExtensionsAiChatsAndStreams()
    {
        var openAi = new OpenAIClient(new ApiKeyCredential(ServerFixture.Key),
            new OpenAIClientOptions { Endpoint = new Uri(fixture.Address, "v1/") });
        IChatClient client = openAi.GetChatClient("tiny").AsIChatClient();
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 10 };
        var expected = DirectChat(Question, 10).Text;

        var response = await client.GetResponseAsync(Question, options);
        Assert.Equal(expected, response.Text);
        Assert.Equal(10, response.Usage?.OutputTokenCount);

        var streamed = new StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync(Question, options)) streamed.Append(update.Text);
        Assert.Equal(expected, streamed.ToString());

        var models = new List<string>();
        foreach (var m in (await openAi.GetOpenAIModelClient().GetModelsAsync()).Value) models.Add(m.Id);
        Assert.Equal(["tiny"], models);
    }

    [Theory]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}""", null, "not valid JSON")]
    [InlineData("v1/chat/completions", """[1, 2]""", null, "must be a JSON object, not an array")]
    [InlineData("v1/chat/completions", """{"model": "tiny"}""", "messages", "messages must be a non-empty array")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "tool", "content": "x"}]}""", "messages[0].role", "\"tool\" is not supported")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": 5}]}""",
        "messages[0].content", "must be a string or an array of text parts, not 5")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}""",
        "messages[0].content[0]", "only {\"type\": \"text\"")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}""",
        "messages", "must end with a user message")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "n": 2}""", "n", "n must be 1")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}""",
        "temperature", "temperature must be a number, not the string \"hot\"")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}""", "max_tokens", "at least 1")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "top_p": 2}""", "top_p", "top_p must be in (0, 1]")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "frequency_penalty": 0.5}""",
        "frequency_penalty", "use repetition_penalty")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "stop": [1]}""",
        "stop", "stop must be a string or an array of strings")]
    [InlineData("v1/chat/completions",
        """{"messages": [{"role": "user", "content": "hi"}], "chat_template_kwargs": {"enable_thinking": false}}""",
        "chat_template_kwargs", "apply to a model's own Jinja chat template")]
    [InlineData("v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "chat_template_kwargs": [1]}""",
        "chat_template_kwargs", "must be an object")]
    [InlineData("v1/completions", """{"max_tokens": 4}""", "prompt", "prompt is required")]
    [InlineData("v1/completions", """{"prompt": ["a", "b"]}""", "prompt", "several prompts in one request are not supported")]
    public async Task BadRequestsGetOpenAiErrorsNamingTheField(string path, string json, string? param, string message)
    {
        var (status, body) = await Post(path, json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = body.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Post("v1/chat/completions", ChatBody(Question, 2))).Status); // still serving
    }

    [Fact]
    public async Task APromptLongerThanTheContextIsRefusedWithBothLengths()
    {
        var longQuestion = string.Join(' ', Enumerable.Repeat("the old house by the river", 20));
        var (status, body) = await Post("v1/chat/completions", ChatBody(longQuestion, 4));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Matches(@"this model's context is 64 tokens and the messages take \d+", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task WrongKeyUnknownEndpointHealthAndChatPage()
    {
        var (status, body) = await Post("v1/chat/completions", ChatBody(Question, 2), authorised: false);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("authentication_error", body.GetProperty("error").GetProperty("type").GetString());

        using var missing = await fixture.Http.GetAsync("v1/embeddings");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("POST /v1/chat/completions", await missing.Content.ReadAsStringAsync());

        using var anonymous = new HttpClient { BaseAddress = fixture.Address };
        Assert.Equal("""{"status":"ok"}""", await anonymous.GetStringAsync("health")); // no key needed outside /v1
        using var page = await anonymous.GetAsync("/");
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("v1/chat/completions", html);
        Assert.DoesNotContain("innerHTML =", html); // model output is shown as text, never as markup
        Assert.Contains("""$("key").addEventListener("change", () => {""", html); // the model's name shows once a key is entered...
        Assert.Contains("""sessionStorage.setItem("sharplm-api-key", """, html); // ...and the key is kept for the tab
        Assert.Equal(2, html.Split("placeholder=\"model default\"").Length - 1);
    }

    [Fact]
    public async Task AClientThatGoesAwayStopsItsGenerationAndFreesTheModel()
    {
        var request = new GenerationRequest(fixture.Loaded.EncodePrompt(Question), SamplingOptions.Greedy with { MaxNewTokens = 40 },
            fixture.Served.CompletionStopTokens);
        int pieces = 0;
        await Assert.ThrowsAsync<IOException>(() => fixture.Served.GenerateAsync(request,
            _ => ++pieces == 2 ? throw new IOException("connection reset") : Task.CompletedTask, CancellationToken.None));
        Assert.Equal(2, pieces);

        var next = fixture.Served.GenerateAsync(request, _ => Task.CompletedTask, CancellationToken.None);
        Assert.Same(next, await Task.WhenAny(next, Task.Delay(TimeSpan.FromSeconds(30))));
        Assert.Equal(DirectGreedy(request.Prompt, [], 40).Text, (await next).Text);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData(""", "ignore_eos": false""", true)]
    [InlineData(""", "ignore_eos": true""", false)]
    public void IgnoreEosKeepsGeneratingPastTheEndToken(string extra, bool stopAtEos)
    {
        using var body = JsonDocument.Parse($$"""{"prompt": "x"{{extra}}}""");
        Assert.Equal(stopAtEos, OpenAiRequestReader.ReadCompletion(body.RootElement, fixture.Served).Options.StopAtEos);
    }

    async Task<(HttpStatusCode Status, JsonElement Error)> PostBytes(string path, HttpContent content)
    {
        using var response = await fixture.Http.PostAsync(path, content);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.GetProperty("error").Clone());
    }

    [Theory]
    [InlineData("""{"messages": [{"role": "user", "content": "a\ud800b"}]}""", "messages[0].content")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "stop": ["\udc00"]}""", "stop[0]")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "chat_template_kwargs": {"\ud800": 1}}""",
        "a field name in chat_template_kwargs")]
    public async Task ALoneSurrogateAnywhereIsA400NamingTheField(string json, string param)
    {
        var (status, error) = await PostBytes("v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains("lone UTF-16 surrogate", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task InvalidUtf8IsA400NotA500()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"messages": [{"role": "user", "content": "a#b"}]}""");
        bytes[Array.IndexOf(bytes, (byte)'#')] = 0xFF;
        var (status, error) = await PostBytes("v1/chat/completions", new ByteArrayContent(bytes));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains("messages[0].content", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task OversizedBodiesAre413WhetherSizedOrChunked()
    {
        var big = Encoding.UTF8.GetBytes(ChatBody(new string('x', 5 * 1024 * 1024), 2));
        // With "Expect: 100-continue" the client waits for the verdict before sending the body, so it reads the 413.
        using var sized = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new ByteArrayContent(big) };
        sized.Headers.ExpectContinue = true;
        using var response = await fixture.Http.SendAsync(sized);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Contains("larger than this server accepts (4194304 bytes)", error.GetProperty("message").GetString());

        // Sent chunked, the size shows only while reading: the server answers 413 and closes, which a client still
        // sending may see as a reset connection; the log shows the answer.
        int before;
        lock (fixture.Log) before = fixture.Log.Count;
        var chunked = new StreamContent(new MemoryStream(big));
        chunked.Headers.ContentLength = null;
        try { await fixture.Http.PostAsync("v1/chat/completions", chunked); } catch (HttpRequestException) { }
        lock (fixture.Log) Assert.Contains(fixture.Log.Skip(before), l => l.Contains("POST /v1/chat/completions -> 413"));
        Assert.Equal(HttpStatusCode.OK, (await Post("v1/chat/completions", ChatBody(Question, 2))).Status);
    }

    [Fact]
    public async Task MalformedChunkedEncodingIsAClean400()
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(fixture.Address.Host, fixture.Address.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
            ServerFixture.Key + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ-not-a-size\r\n{}\r\n0\r\n\r\n"));
        var reply = await new StreamReader(stream).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.StartsWith("HTTP/1.1 400", reply);
        Assert.Contains("\"invalid_request_error\"", reply);
    }

    [Fact]
    public async Task TooManyMessagesTooLongPromptsAndTooLargeKwargsAre400sNamingTheField()
    {
        var many = string.Join(", ", Enumerable.Repeat("""{"role": "user", "content": "hi"}""", 1001));
        var (status, error) = await PostBytes("v1/chat/completions",
            new StringContent($$"""{"messages": [{{many}}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal((HttpStatusCode.BadRequest, "messages"), (status, error.GetProperty("param").GetString()));
        Assert.Contains("at most 1000", error.GetProperty("message").GetString());

        var longPrompt = $$"""{"prompt": "{{new string('x', 1_000_001)}}"}""";
        (status, error) = await PostBytes("v1/completions", new StringContent(longPrompt, Encoding.UTF8, "application/json"));
        Assert.Equal((HttpStatusCode.BadRequest, "prompt"), (status, error.GetProperty("param").GetString()));

        (status, error) = await PostBytes("v1/chat/completions",
            new StringContent(ChatBody(new string('x', 1_000_001), 2), Encoding.UTF8, "application/json"));
        Assert.Equal((HttpStatusCode.BadRequest, "messages"), (status, error.GetProperty("param").GetString()));

        // Two at once, each just under the body limit: both refused, the server unharmed.
        var kwargs = ChatBody(Question, 2, $$""", "chat_template_kwargs": {"doc": "{{new string('x', 4_000_000)}}"}""");
        var answers = await Task.WhenAll(Enumerable.Range(0, 2)
            .Select(_ => PostBytes("v1/chat/completions", new StringContent(kwargs, Encoding.UTF8, "application/json"))));
        Assert.All(answers, a =>
            Assert.Equal((HttpStatusCode.BadRequest, "chat_template_kwargs"), (a.Status, a.Error.GetProperty("param").GetString())));
        Assert.Equal(HttpStatusCode.OK, (await Post("v1/chat/completions", ChatBody(Question, 2))).Status);
    }

    [Fact]
    public async Task AnotherModelsNameIs404AndAWrongMethodIs405()
    {
        var (status, body) = await Post("v1/chat/completions", ChatBody(Question, 2).Replace("\"tiny\"", "\"gpt-4o\""));
        Assert.Equal(HttpStatusCode.NotFound, status);
        var error = body.GetProperty("error");
        Assert.Equal(("model_not_found", "model"), (error.GetProperty("code").GetString(), error.GetProperty("param").GetString()));
        Assert.Contains("this server serves \"tiny\"", error.GetProperty("message").GetString());

        using var get = await fixture.Http.GetAsync("v1/chat/completions");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        Assert.Equal(["POST"], get.Content.Headers.Allow);
        Assert.Contains("answers POST, not GET", await get.Content.ReadAsStringAsync());
        using var post = await fixture.Http.PostAsync("health", new StringContent(""));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);

        await using var anyName = await ModelServer.StartAsync(fixture.Served, new ServeOptions(Port: 0, AcceptAnyModel: true));
        using var client = new HttpClient { BaseAddress = anyName.Address };
        using var accepted = await client.PostAsync("v1/chat/completions",
            new StringContent(ChatBody(Question, 2).Replace("\"tiny\"", "\"gpt-4o\""), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Theory]
    [InlineData("runs/demo-ft/final", "demo-ft/final")]
    [InlineData("runs/demo-ft/checkpoint-200/", "demo-ft/checkpoint-200")]
    [InlineData("models/SmolLM2-135M", "SmolLM2-135M")]
    public void TheDefaultModelIdNamesTheRunForRunOutputFolders(string folder, string expected) =>
        Assert.Equal(expected, PretrainedModel.IdOf(folder));
}
