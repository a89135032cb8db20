using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using SharpLM.Chat;
using SharpLM.Generation;
using SharpLM.Hub;
using static TorchSharp.torch;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using ChatMessage = SharpLM.Chat.ChatMessage;

namespace SharpLM.Serving;

/// <summary>
/// A SharpLM model as a Microsoft.Extensions.AI <see cref="IChatClient"/>, in-process: what Semantic Kernel and other
/// .NET AI code call, with no server in between. Conversations are rendered with the model's chat template (the one
/// saved with it, else <see cref="ChatTemplates.Default"/>); calls that overlap are decoded together
/// (<see cref="ContinuousBatcher"/>).
/// </summary>
/// <remarks><see cref="ChatOptions"/> maps to <see cref="SamplingOptions"/>: MaxOutputTokens, Temperature (0 = greedy),
/// TopP, TopK, Seed and StopSequences; <c>AdditionalProperties["repetition_penalty"]</c>, <c>["repetition_penalty_range"]</c>,
/// <c>["min_p"]</c> and <c>["ignore_eos"]</c> too, mapped and checked by <see cref="SamplingRequest"/> as the server does.
/// Options left out take the model's generation_config.json. Tools, JSON response formats, frequency/presence penalties,
/// tool messages and non-text content are refused with <see cref="NotSupportedException"/>.</remarks>
public sealed class SharpLMChatClient : IChatClient
{
    readonly PretrainedModel loaded;
    readonly TextGenerator generator;
    readonly IReadOnlySet<int> stopTokens;
    readonly bool ownsModel;
    readonly ChatClientMetadata metadata;

    /// <param name="loaded">The model; disposed with this client only when <paramref name="ownsModel"/>.</param>
    /// <param name="template">Chat template; default: the model's own, else <see cref="ChatTemplates.Default"/>.</param>
    /// <param name="defaults">Sampling for what a call's options leave out; default: the model's generation_config.json.</param>
    /// <param name="modelId">The id reported in responses; default: <see cref="PretrainedModel.Id"/>, the id
    /// <c>sharplm serve</c> gives the same folder.</param>
    /// <param name="batching">How overlapping calls share the model (default: up to 8 decoded together).</param>
    public SharpLMChatClient(PretrainedModel loaded, ChatTemplate? template = null, SamplingOptions? defaults = null, string? modelId = null,
        bool ownsModel = false, BatchingOptions? batching = null)
    {
        this.loaded = loaded;
        this.ownsModel = ownsModel;
        generator = new TextGenerator(loaded.Model, loaded.Tokenizer, batching);
        Template = template ?? ChatTemplates.Resolve(null, loaded.Adapter ?? loaded.Folder, loaded.Tokenizer);
        stopTokens = loaded.StopTokens(Template);
        // Checked here, by the mapping every call's options go through, rather than at the first call that leaves them all out.
        Defaults = new SamplingRequest().ApplyTo(defaults ?? loaded.Generation.ToSamplingOptions());
        metadata = new ChatClientMetadata("sharplm", defaultModelId: modelId ?? loaded.Id);
    }

    /// <summary>Loads a model folder (or a LoRA adapter folder, or <paramref name="adapter"/> on top of it) into a client
    /// that owns it. It changes nothing process-wide: a host that wants libtorch's threads and glibc's malloc tuned calls
    /// <see cref="Runtime.NativeEnvironment.Configure"/> first.</summary>
    /// <param name="device">where the model runs (<see cref="Runtime.ComputeDevice.Open"/>); null = the CPU</param>
    public static SharpLMChatClient Load(string folder, string? adapter = null, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        new(PretrainedModel.Load(folder, dtype, adapter, device: device), ownsModel: true);

    public ChatTemplate Template { get; }

    public SamplingOptions Defaults { get; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var result = await generator.GenerateAsync(Prepare(messages, options, cancellationToken), cancel: cancellationToken);
        return new ChatResponse(new AIChatMessage(ChatRole.Assistant, result.Text))
        {
            FinishReason = Finish(result), Usage = Usage(result), ModelId = metadata.DefaultModelId, CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // A caller that stops reading early (or is cancelled) ends the generation, so the model is free again.
        await foreach (var update in generator.StreamAsync(Prepare(messages, options, cancellationToken), cancellationToken))
        {
            yield return update.Result is { } result
                ? new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(result))])
                {
                    FinishReason = Finish(result),
                    ModelId = metadata.DefaultModelId,
                }
                : new ChatResponseUpdate(ChatRole.Assistant, update.Text) { ModelId = metadata.DefaultModelId };
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? metadata
        : serviceType == typeof(PretrainedModel) ? loaded
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        generator.Dispose();
        if (ownsModel) loaded.Dispose();
    }

    GenerationRequest Prepare(IEnumerable<AIChatMessage> messages, ChatOptions? options, CancellationToken cancel)
    {
        var sampling = Sampling(options);
        var conversation = messages.Select((m, i) => new ChatMessage(Role(m, i), Text(m, i))).ToList();
        if (conversation.Count == 0) throw new SharpLMException("the conversation is empty: at least one user message is needed");
        var prompt = Template.RenderPrompt(loaded.Tokenizer, conversation, cancel);
        int context = (int)loaded.Model.Config.MaxPositionEmbeddings;
        if (prompt.Length >= context)
            throw new SharpLMException($"the conversation is {prompt.Length} tokens, and the model's context is {context}; shorten it");
        return new GenerationRequest(prompt, sampling with { StopStrings = [.. sampling.StopStrings, .. Template.StopStrings] }, stopTokens);
    }

    SamplingOptions Sampling(ChatOptions? options)
    {
        if (options is null) return Defaults;
        if (options.Tools is { Count: > 0 }) throw new NotSupportedException("SharpLM models do not call tools");
        if (options.ResponseFormat is ChatResponseFormatJson)
            throw new NotSupportedException("JSON response formats are not supported; ask for JSON in the prompt");
        if (options.FrequencyPenalty is { } f && f != 0 || options.PresencePenalty is { } p && p != 0)
            throw new NotSupportedException("frequency and presence penalties are not supported; use AdditionalProperties[\"repetition_penalty\"]");
        var extra = options.AdditionalProperties;
        return new SamplingRequest
        {
            MaxTokens = options.MaxOutputTokens,
            Temperature = options.Temperature,
            TopP = options.TopP,
            TopK = options.TopK,
            Seed = options.Seed,
            Stop = options.StopSequences?.ToList(),
            RepetitionPenalty = Extra<float>(extra, "repetition_penalty"),
            RepetitionPenaltyRange = Extra<int>(extra, "repetition_penalty_range"),
            MinP = Extra<float>(extra, "min_p"),
            IgnoreEos = Extra<bool>(extra, "ignore_eos"),
        }.ApplyTo(Defaults);
    }

    /// <summary>A setting beyond ChatOptions' own, under the name the server's requests give it.</summary>
    static T? Extra<T>(AdditionalPropertiesDictionary? extra, string name) where T : struct =>
        extra is null || !extra.ContainsKey(name) ? null
        : extra.TryGetValue(name, out T value) ? value
        : throw new SamplingFieldException(name, $"AdditionalProperties[\"{name}\"] must be " +
                                                 $"{(typeof(T) == typeof(bool) ? "true or false" : "a number")}");

    static string Role(AIChatMessage message, int index) =>
        message.Role == ChatRole.System ? ChatMessage.SystemRole
        : message.Role == ChatRole.User ? ChatMessage.UserRole
        : message.Role == ChatRole.Assistant ? ChatMessage.AssistantRole
        : throw new NotSupportedException($"messages[{index}]: the role \"{message.Role}\" is not supported (system, user and assistant are)");

    static string Text(AIChatMessage message, int index) =>
        message.Contents.FirstOrDefault(c => c is not TextContent) is { } other
            ? throw new NotSupportedException($"messages[{index}]: {other.GetType().Name} is not supported; SharpLM models read text only")
            : message.Text;

    static ChatFinishReason Finish(GenerationResult result) => result.Stopped ? ChatFinishReason.Stop : ChatFinishReason.Length;

    static UsageDetails Usage(GenerationResult result) => new()
    {
        InputTokenCount = result.PromptTokens,
        OutputTokenCount = result.CompletionTokens,
        TotalTokenCount = result.PromptTokens + result.CompletionTokens,
    };
}
