using System.Diagnostics;
using System.Threading.Channels;
using SharpLM.Data;
using SharpLM.Formats;
using SharpLM.Generation;

namespace SharpLM.Cli.Serving;

/// <summary>What one request asks the model for.</summary>
/// <param name="Prompt">Token ids, already rendered (chat template or plain text with the begin token).</param>
/// <param name="Options">Sampling, with the template's stop strings already added for chats.</param>
sealed record GenerationRequest(int[] Prompt, SamplingOptions Options);

/// <summary>How one generation ended.</summary>
sealed record GenerationResult(string Text, StopReason Reason, int PromptTokens, int CompletionTokens, TimeSpan Elapsed)
{
    /// <summary>OpenAI's <c>finish_reason</c>: "stop" at the end token or a stop string, "length" at the token limit or a full context.</summary>
    public string FinishReason => Reason is StopReason.EndToken or StopReason.StopString ? "stop" : "length";
}

/// <summary>
/// A loaded model as the server uses it: its chat template and default sampling settings, and generation one
/// request at a time (libtorch already uses every core for one sequence; a second one at once would only make both
/// slower). Requests wait their turn in arrival order.
/// </summary>
sealed class ServedModel(PretrainedModel loaded, ChatTemplate template, SamplingOptions defaults, string name)
{
    readonly SemaphoreSlim turn = new(1, 1);
    readonly TokenGenerator generator = new(loaded.Model);

    /// <summary>The model id clients pass as <c>model</c> and see in <c>/v1/models</c>.</summary>
    public string Name => name;

    public PretrainedModel Loaded => loaded;

    public ChatTemplate Template => template;

    /// <summary>Settings for every field a request leaves out (the model's generation_config, then the command line).</summary>
    public SamplingOptions Defaults => defaults;

    public int ContextLength => (int)loaded.Model.Config.MaxPositionEmbeddings;

    /// <summary>Generates on a worker thread once earlier requests are done, passing text to <paramref name="onText"/>
    /// as soon as it is safe to show (never a split character or the start of a stop string). If
    /// <paramref name="cancel"/> fires (the client went away) generation stops at the next token.</summary>
    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, Func<string, Task> onText, CancellationToken cancel)
    {
        await turn.WaitAsync(cancel);
        try
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var work = Task.Run(() => Generate(request, pieces.Writer, stop.Token), CancellationToken.None);
            try
            {
                await foreach (var piece in pieces.Reader.ReadAllAsync(CancellationToken.None)) await onText(piece);
            }
            catch
            {
                // The client could not take the text: stop generating, and finish before the next request starts.
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

    GenerationResult Generate(GenerationRequest request, ChannelWriter<string> output, CancellationToken cancel)
    {
        try
        {
            var clock = Stopwatch.StartNew();
            var text = new StreamingText(loaded.Tokenizer, request.Options.StopStrings);
            int produced = 0;
            foreach (var id in generator.Generate(request.Prompt, request.Options, loaded.StopTokens(), cancel))
            {
                produced++;
                if (text.Push(id) is { Length: > 0 } ready) output.TryWrite(ready);
                if (text.Stopped) break;
            }
            if (text.Flush() is { Length: > 0 } rest) output.TryWrite(rest);
            var reason = text.Stopped ? StopReason.StopString : generator.LastStopReason ?? StopReason.MaxTokens;
            return new GenerationResult(text.Text, reason, request.Prompt.Length, produced, clock.Elapsed);
        }
        finally
        {
            output.Complete();
        }
    }
}
