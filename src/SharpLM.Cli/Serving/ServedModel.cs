using SharpLM.Chat;
using SharpLM.Generation;
using SharpLM.Hub;

namespace SharpLM.Cli.Serving;

/// <summary>A loaded model as the server uses it: its id, chat template and default sampling settings, and a
/// <see cref="TextGenerator"/> that runs requests one at a time.</summary>
sealed class ServedModel(PretrainedModel loaded, ChatTemplate template, SamplingOptions defaults, string name)
{
    readonly TextGenerator generator = new(loaded.Model, loaded.Tokenizer);

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

    public int ContextLength => (int)loaded.Model.Config.MaxPositionEmbeddings;

    public Task<GenerationResult> GenerateAsync(GenerationRequest request, Func<string, Task> onText, CancellationToken cancel) =>
        generator.GenerateAsync(request, onText, cancel);
}
