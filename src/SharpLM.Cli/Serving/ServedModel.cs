using SharpLM.Chat;
using SharpLM.Formats;
using SharpLM.Generation;

namespace SharpLM.Cli.Serving;

/// <summary>What one request asks the model for.</summary>
/// <param name="Prompt">Token ids, already rendered (chat template or plain text with the begin token).</param>
/// <param name="Options">Sampling, with the template's stop strings already added for chats.</param>
sealed record GenerationRequest(int[] Prompt, SamplingOptions Options);

/// <summary>A loaded model as the server uses it: its id, chat template and default sampling settings, and a
/// <see cref="TextGenerator"/> that runs requests one at a time.</summary>
sealed class ServedModel(PretrainedModel loaded, ChatTemplate template, SamplingOptions defaults, string name)
{
    readonly TextGenerator generator = new(loaded);

    /// <summary>The model id clients pass as <c>model</c> and see in <c>/v1/models</c>.</summary>
    public string Name => name;

    public PretrainedModel Loaded => loaded;

    public ChatTemplate Template => template;

    /// <summary>Settings for every field a request leaves out (the model's generation_config, then the command line).</summary>
    public SamplingOptions Defaults => defaults;

    public int ContextLength => (int)loaded.Model.Config.MaxPositionEmbeddings;

    public Task<GenerationResult> GenerateAsync(GenerationRequest request, Func<string, Task> onText, CancellationToken cancel) =>
        generator.GenerateAsync(request.Prompt, request.Options, onText, cancel);
}
