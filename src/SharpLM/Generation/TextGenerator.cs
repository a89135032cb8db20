using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using SharpLM.Model;
using SharpLM.Tokenization;

namespace SharpLM.Generation;

/// <summary>How one generation ended.</summary>
public sealed record GenerationResult(string Text, StopReason Reason, int PromptTokens, int CompletionTokens, TimeSpan Elapsed)
{
    /// <summary>Whether the model ended the text (end token or stop string) rather than a limit (token limit, full context).</summary>
    public bool Stopped => Reason is StopReason.EndToken or StopReason.StopString;

    /// <summary>OpenAI's <c>finish_reason</c>: "stop" or "length" (see <see cref="Stopped"/>).</summary>
    public string FinishReason => Stopped ? "stop" : "length";
}

/// <summary>A piece of streamed text, or, last, how the generation ended (<see cref="Result"/> set, <see cref="Text"/> empty).</summary>
public sealed record GenerationUpdate(string Text, GenerationResult? Result = null);

/// <summary>
/// Text generation for callers that may overlap (a server's requests, an app's chat client): generations run together
/// in one batch (<see cref="ContinuousBatcher"/>, up to <see cref="BatchingOptions.MaxBatch"/> at once, the rest wait
/// in arrival order), each streaming its text as soon as it is safe to show.
/// </summary>
public sealed class TextGenerator(LlamaForCausalLM model, ITokenizer tokenizer, BatchingOptions? batching = null) : IDisposable
{
    readonly ContinuousBatcher batcher = new(model, tokenizer, batching);

    /// <summary>The batch the generations run in (its slot size and memory).</summary>
    public ContinuousBatcher Batcher => batcher;

    /// <summary>Generates once a slot is free, yielding text as it becomes safe to show (never a split character or the
    /// start of a stop string), then the result. If <paramref name="cancel"/> fires or the caller stops reading (the
    /// client went away), generation stops at the next token and its slot is free for the next call.</summary>
    public async IAsyncEnumerable<GenerationUpdate> StreamAsync(GenerationRequest request,
        [EnumeratorCancellation] CancellationToken cancel = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var work = batcher.Submit(request, piece => pieces.Writer.TryWrite(piece), stop.Token);
        _ = work.ContinueWith(_ => pieces.Writer.Complete(), TaskScheduler.Default);
        try
        {
            await foreach (var piece in pieces.Reader.ReadAllAsync(CancellationToken.None)) yield return new GenerationUpdate(piece);
            yield return new GenerationUpdate("", await work);
        }
        finally
        {
            // The caller stopped reading (or could not take the text): stop generating and free the slot.
            stop.Cancel();
            try { await work; } catch { /* reported above, or the caller's own exception is the one to report */ }
        }
    }

    /// <summary><see cref="StreamAsync"/> with the text passed to <paramref name="onText"/>; if it throws, generation
    /// stops at the next token and the exception is the one reported.</summary>
    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, Func<string, Task>? onText = null,
        CancellationToken cancel = default)
    {
        await foreach (var update in StreamAsync(request, cancel))
        {
            if (update.Result is { } result) return result;
            if (onText is not null) await onText(update.Text);
        }
        throw new UnreachableException("a generation's stream ends with its result");
    }

    public void Dispose() => batcher.Dispose();
}
