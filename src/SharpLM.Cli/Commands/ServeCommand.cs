using System.CommandLine;
using SharpLM.Chat;
using SharpLM.Cli.Serving;
using SharpLM.Generation;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm serve`: the model behind an OpenAI-compatible HTTP API.</summary>
static class ServeCommand
{
    public static Command Create()
    {
        var host = new Option<string>("--host")
        {
            Description = "Address to listen on: 127.0.0.1 (this machine only) or 0.0.0.0 (the network).",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var port = new Option<int>("--port") { Description = "TCP port.", DefaultValueFactory = _ => 8080 };
        var name = new Option<string?>("--name") { Description = "Model id clients send and see in /v1/models (default: the model folder's name)." };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "Require \"Authorization: Bearer <key>\" (default: $SHARPLM_API_KEY; unset = no key).",
        };
        var template = new Option<string?>("--template")
        {
            Description = "Chat template for /v1/chat/completions (default: the one saved with the model or its own Jinja chat_template, " +
                          "else default).",
        };
        var defaults = new ServeLimits();
        var maxRequestBytes = new Option<long>("--max-request-bytes")
        {
            Description = "Largest request body in bytes; larger ones get 413.",
            DefaultValueFactory = _ => defaults.MaxRequestBytes,
        };
        var maxMessages = new Option<int>("--max-messages")
        {
            Description = "Most messages in one chat request.",
            DefaultValueFactory = _ => defaults.MaxMessages,
        };
        var maxPromptChars = new Option<int>("--max-prompt-chars")
        {
            Description = "Longest prompt in characters (the messages, and the text the chat template renders).",
            DefaultValueFactory = _ => defaults.MaxPromptChars,
        };
        var maxKwargsChars = new Option<int>("--max-template-kwargs-chars")
        {
            Description = "Largest chat_template_kwargs, in characters of JSON.",
            DefaultValueFactory = _ => defaults.MaxTemplateKwargsChars,
        };
        var acceptAnyModel = new Option<bool>("--accept-any-model")
        {
            Description = "Answer requests whatever model they name (default: 404 model_not_found for any but the one served).",
        };
        var batchingDefaults = new BatchingOptions();
        var maxBatch = new Option<int>("--max-batch")
        {
            Description = "Most requests decoded together (continuous batching); more wait in arrival order.",
            DefaultValueFactory = _ => batchingDefaults.MaxBatch,
        };
        var kvCacheMb = new Option<int>("--kv-cache-mb")
        {
            Description = "Memory for the KV cache of all requests in flight, in MB, allocated at start: each of the --max-batch slots holds " +
                          "the model's context or as much as fits.",
            DefaultValueFactory = _ => (int)(batchingDefaults.KvCacheBytes >> 20),
        };
        var modelArgs = new ModelArguments();
        var sampling = new SamplingArguments();
        var templateVariables = new TemplateVariables();
        var cmd = new Command("serve",
            "Serve a model over HTTP with OpenAI's API: POST /v1/chat/completions, POST /v1/completions (both stream with \"stream\": true), " +
            "GET /v1/models, GET /health, and a chat page at /. Sampling options set the defaults for fields a request leaves out.")
        {
            host, port, name, apiKey, template, maxRequestBytes, maxMessages, maxPromptChars, maxKwargsChars, acceptAnyModel, maxBatch, kvCacheMb,
        };
        modelArgs.AddTo(cmd);
        sampling.AddTo(cmd);
        templateVariables.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(port) is < 0 or > 65535) throw new SharpLMException($"--port {parse.GetValue(port)}: expected 0 to 65535");
            foreach (var (option, value) in new (Option, long)[]
                     {
                         (maxRequestBytes, parse.GetValue(maxRequestBytes)), (maxMessages, parse.GetValue(maxMessages)),
                         (maxPromptChars, parse.GetValue(maxPromptChars)), (maxKwargsChars, parse.GetValue(maxKwargsChars)),
                         (maxBatch, parse.GetValue(maxBatch)), (kvCacheMb, parse.GetValue(kvCacheMb)),
                     })
                if (value < 1) throw new SharpLMException($"{option.Name} {value}: expected at least 1");
            var limits = new ServeLimits
            {
                MaxRequestBytes = parse.GetValue(maxRequestBytes), MaxMessages = parse.GetValue(maxMessages),
                MaxPromptChars = parse.GetValue(maxPromptChars), MaxTemplateKwargsChars = parse.GetValue(maxKwargsChars),
            };
            using var loaded = modelArgs.Load(parse);
            var chatTemplate = templateVariables.Apply(parse,
                ChatTemplates.Resolve(parse.GetValue(template), loaded.Adapter ?? loaded.Folder, loaded.Tokenizer));
            var modelName = parse.GetValue(name) ?? modelArgs.Id(parse, loaded);
            var batching = new BatchingOptions { MaxBatch = parse.GetValue(maxBatch), KvCacheBytes = (long)parse.GetValue(kvCacheMb) << 20 };
            using var served = new ServedModel(loaded, chatTemplate, sampling.Read(parse, loaded.Generation), modelName, batching);
            var key = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("SHARPLM_API_KEY");
            var options = new ServeOptions(parse.GetValue(host)!, parse.GetValue(port), string.IsNullOrEmpty(key) ? null : key,
                line => AnsiConsole.MarkupLineInterpolated($"[grey]{DateTime.Now:HH:mm:ss}[/] {line}"), limits, parse.GetValue(acceptAnyModel));
            RunAsync(served, options).GetAwaiter().GetResult();
            return 0;
        });
        return cmd;
    }

    static async Task RunAsync(ServedModel served, ServeOptions options)
    {
        await using var server = await ModelServer.StartAsync(served, options);
        AnsiConsole.MarkupLineInterpolated(
            $"Serving [bold]{served.Name}[/] (template {served.Template.Name}, context {served.ContextLength} tokens) at [link]{server.Address}[/]");
        var (slots, megabytes, each) = (served.Batcher.MaxBatch, served.Batcher.KvCacheBytes / (1 << 20), served.Batcher.SlotCapacity);
        AnsiConsole.MarkupLineInterpolated(
            $"Up to {slots} requests decode together; KV cache {megabytes:N0} MB ({slots} slots and one for prefilling, {each:N0} tokens each)");
        AnsiConsole.MarkupLine($"Chat in a browser at {server.Address}; OpenAI-compatible API: POST {server.Address}v1/chat/completions, " +
                               $"POST /v1/completions, GET /v1/models{(options.ApiKey is null ? "" : " (API key required)")}. Ctrl+C stops.");
        await server.WaitForShutdownAsync();
    }
}
