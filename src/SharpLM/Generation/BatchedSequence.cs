using System.Diagnostics;
using System.Runtime.InteropServices;
using SharpLM.Tokenization;

namespace SharpLM.Generation;

/// <summary>
/// One generation inside a <see cref="ContinuousBatcher"/>: its own sampler, context, streamed text, limits and
/// cancellation. It takes one row of logits per step and decides, as <see cref="TokenGenerator.Generate"/> and
/// <see cref="TokenGenerator.GenerateText"/> do for one sequence, whether to go on.
/// </summary>
sealed class BatchedSequence(GenerationRequest request, ITokenizer tokenizer, Action<string>? onText, CancellationToken cancel)
{
    readonly TokenSampler sampler = new(request.Options);
    readonly List<int> context = [.. request.Prompt];
    readonly StreamingText text = new(tokenizer, request.Options.StopStrings);
    readonly TaskCompletionSource<GenerationResult> done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly Stopwatch clock = Stopwatch.StartNew();
    int produced;

    public GenerationRequest Request => request;

    public Task<GenerationResult> Result => done.Task;

    public bool Cancelled => cancel.IsCancellationRequested;

    /// <summary>Prompt tokens already run through the model.</summary>
    public int Prefilled { get; set; }

    /// <summary>Its row in the slot cache while decoding.</summary>
    public int Row { get; set; } = -1;

    /// <summary>The token the next decoding step feeds.</summary>
    public int Pending { get; private set; }

    /// <summary>Chooses the next token from <paramref name="logits"/>; returns false when the sequence has ended
    /// (its result is then set). <paramref name="contextLimit"/> is the most positions it may hold.</summary>
    public bool Accept(Span<float> logits, long contextLimit)
    {
        if (produced >= request.Options.MaxNewTokens) return Finish(StopReason.MaxTokens);
        if (Cancelled) return Finish(StopReason.Cancelled);
        var next = sampler.Next(logits, CollectionsMarshal.AsSpan(context));
        if (request.Options.StopAtEos && request.StopTokens.Contains(next)) return Finish(StopReason.EndToken);
        context.Add(next);
        produced++;
        if (text.Push(next) is { Length: > 0 } ready && !Show(ready)) return false;
        if (text.Stopped) return Finish(StopReason.StopString);
        if (produced >= request.Options.MaxNewTokens) return Finish(StopReason.MaxTokens);
        if (context.Count >= contextLimit) return Finish(StopReason.ContextFull);
        if (Cancelled) return Finish(StopReason.Cancelled);
        Pending = next;
        return true;
    }

    /// <summary>Ends it before it produced anything more (cancelled while waiting).</summary>
    public bool Finish(StopReason reason)
    {
        if (text.Flush() is { Length: > 0 } rest && !Show(rest)) return false;
        done.TrySetResult(new GenerationResult(text.Text, reason, request.Prompt.Length, produced, clock.Elapsed));
        return false;
    }

    public void Fail(Exception e) => done.TrySetException(e);

    /// <summary>Passes text on; a callback that throws ends this sequence with its exception, not the others.</summary>
    bool Show(string piece)
    {
        try
        {
            onText?.Invoke(piece);
            return true;
        }
        catch (Exception e)
        {
            Fail(e);
            return false;
        }
    }
}
