using System.Diagnostics;
using System.Threading.Channels;
using SharpLM.Formats;

namespace SharpLM.Generation;

/// <summary>How one generation ended.</summary>
public sealed record GenerationResult(string Text, StopReason Reason, int PromptTokens, int CompletionTokens, TimeSpan Elapsed)
{
    /// <summary>Whether the model ended the text (end token or stop string) rather than a limit (token limit, full context).</summary>
    public bool Stopped => Reason is StopReason.EndToken or StopReason.StopString;

    /// <summary>OpenAI's <c>finish_reason</c>: "stop" or "length" (see <see cref="Stopped"/>).</summary>
    public string FinishReason => Stopped ? "stop" : "length";
}

/// <summary>
/// Text generation for callers that may overlap (a server's requests, an app's chat client): one generation at a
/// time, in arrival order (libtorch already uses every core for one sequence; a second at once would only make
/// both slower), each on a worker thread, with the text streamed as soon as it is safe to show.
/// </summary>
public sealed class TextGenerator(PretrainedModel loaded)
{
    readonly SemaphoreSlim turn = new(1, 1);
    readonly TokenGenerator generator = new(loaded.Model);

    public PretrainedModel Loaded => loaded;

    /// <summary>Generates once earlier calls are done, passing text to <paramref name="onText"/> as it becomes safe
    /// to show (never a split character or the start of a stop string). If <paramref name="cancel"/> fires or
    /// <paramref name="onText"/> throws (the client went away), generation stops at the next token and the
    /// model is free for the next call.</summary>
    public async Task<GenerationResult> GenerateAsync(int[] prompt, SamplingOptions options, Func<string, Task> onText, CancellationToken cancel = default)
    {
        await turn.WaitAsync(cancel);
        try
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var work = Task.Run(() => Generate(prompt, options, pieces.Writer, stop.Token), CancellationToken.None);
            try
            {
                await foreach (var piece in pieces.Reader.ReadAllAsync(CancellationToken.None)) await onText(piece);
            }
            catch
            {
                // The caller could not take the text: stop generating, and finish before the next call starts.
                stop.Cancel();
                try { await work; } catch { /* the caller's exception is the one to report */ }
                throw;
            }
            return await work;
        }
        finally
        {
            turn.Release();
        }
    }

    GenerationResult Generate(int[] prompt, SamplingOptions options, ChannelWriter<string> output, CancellationToken cancel)
    {
        try
        {
            var clock = Stopwatch.StartNew();
            var text = new StreamingText(loaded.Tokenizer, options.StopStrings);
            int produced = 0;
            foreach (var id in generator.Generate(prompt, options, loaded.StopTokens(), cancel))
            {
                produced++;
                if (text.Push(id) is { Length: > 0 } ready) output.TryWrite(ready);
                if (text.Stopped) break;
            }
            if (text.Flush() is { Length: > 0 } rest) output.TryWrite(rest);
            var reason = text.Stopped ? StopReason.StopString : generator.LastStopReason ?? StopReason.MaxTokens;
            return new GenerationResult(text.Text, reason, prompt.Length, produced, clock.Elapsed);
        }
        finally
        {
            output.Complete();
        }
    }
}
