using SharpLM.Chat;
using SharpLM.Generation;
using SharpLM.Hub;

namespace SharpLM.Cli.Serving;

/// <summary>A loaded model as the server uses it: its id, chat template and default sampling settings, and a
/// <see cref="TextGenerator"/> that decodes concurrent requests together.</summary>
sealed class ServedModel(PretrainedModel loaded, ChatTemplate template, SamplingOptions defaults, string name,
    BatchingOptions? batching = null) : IDisposable
{
    readonly TextGenerator generator = new(loaded.Model, loaded.Tokenizer, batching);

    /// <summary>The batch requests share: slots, each slot's size, and the KV cache's memory.</summary>
    public ContinuousBatcher Batcher => generator.Batcher;

    /// <summary>The model id clients pass as <c>model</c> and see in <c>/v1/models</c>.</summary>
    public string Name => name;

    public PretrainedModel Loaded => loaded;

    public ChatTemplate Template => template;

    /// <summary>Settings for every field a request leaves out (the model's generation_config, then the command line).</summary>
    public SamplingOptions Defaults => defaults;

    /// <summary>What ends a chat answer (the end tokens and the template's), found once rather than per request.</summary>
    public IReadOnlySet<int> ChatStopTokens { get; } = loaded.StopTokens(template);

    /// <summary>What ends a plain completion: the end tokens.</summary>
    public IReadOnlySet<int> CompletionStopTokens { get; } = loaded.StopTokens();

    /// <summary>Most tokens (prompt and answer) one request may hold: the model's context, or less where the KV cache's
    /// budget gives each slot less.</summary>
    public int ContextLength => (int)generator.Batcher.SlotCapacity;

    public Task<GenerationResult> GenerateAsync(GenerationRequest request, Func<string, Task> onText, CancellationToken cancel) =>
        generator.GenerateAsync(request, onText, cancel);

    public void Dispose() => generator.Dispose();
}
