using SharpLM.Generation;

namespace SharpLM.Cli.Serving;

/// <summary>The JSON bodies of one completion in OpenAI's shapes: the whole answer, or the chunks of a stream,
/// all under one id and creation time.</summary>
sealed class CompletionResponse(bool chat, string model)
{
    readonly string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
    readonly long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    string Object => chat ? "chat.completion" : "text_completion";

    public object Whole(GenerationResult result) => new
    {
        id, @object = Object, created, model,
        choices = new[]
        {
            chat
                ? (object)new { index = 0, message = new { role = "assistant", content = result.Text }, finish_reason = result.FinishReason }
                : new { index = 0, text = result.Text, logprobs = (object?)null, finish_reason = result.FinishReason },
        },
        usage = Usage(result),
    };

    /// <summary>A stream chunk: for chats <paramref name="content"/> is the <c>delta</c> object, for completions the text.</summary>
    public object Chunk(object content, string? finishReason) => new
    {
        id, @object = chat ? "chat.completion.chunk" : "text_completion", created, model,
        choices = new[]
        {
            chat
                ? (object)new { index = 0, delta = content, finish_reason = finishReason }
                : new { index = 0, text = content, logprobs = (object?)null, finish_reason = finishReason },
        },
    };

    /// <summary>The last chunk when the client asked for <c>stream_options.include_usage</c>.</summary>
    public object UsageChunk(GenerationResult result) => new
    {
        id, @object = chat ? "chat.completion.chunk" : "text_completion", created, model, choices = Array.Empty<object>(), usage = Usage(result),
    };

    static object Usage(GenerationResult r) => new
    {
        prompt_tokens = r.PromptTokens, completion_tokens = r.CompletionTokens, total_tokens = r.PromptTokens + r.CompletionTokens,
    };
}
