using System.Diagnostics;
using SharpLM.Model;
using SharpLM.Tokenization;
using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>Why generation ended.</summary>
public enum StopReason { MaxTokens, EndToken, StopString, ContextFull, Cancelled }

/// <summary>
/// Autoregressive token generation for one sequence: prefill the prompt, then one token per forward pass, with a
/// KV cache (or, for comparison, recomputing the whole sequence each step).
/// </summary>
public sealed class TokenGenerator(LlamaForCausalLM model, bool useKvCache = true)
{
    public LlamaForCausalLM Model => model;

    /// <summary>Intra-op threads for a one-token decoding step; 0 leaves libtorch's thread count alone, as for the
    /// prompt. 1 decodes faster on CPU: a decoding step is a chain of small matrix-vector products, and waking a second
    /// OpenMP thread for each costs more than it saves, while the prompt's forward pass, real matrix products, still
    /// uses every thread. But it calls libtorch's set_num_threads before and after each step, which reaches beyond
    /// the calling thread (libtorch keeps the count as the default for threads that first use it meanwhile, and drops
    /// oneDNN's cached kernels), so it is the host's choice: the default is 1 once the host has called
    /// <see cref="Runtime.NativeEnvironment.Configure"/> (the CLI does), else 0.</summary>
    public int DecodeThreads { get; init; } = Runtime.NativeEnvironment.IsConfigured ? 1 : 0;

    /// <summary>Set when the last <see cref="Generate"/> enumeration ended.</summary>
    public StopReason? LastStopReason { get; private set; }

    /// <summary>Yields generated token ids (the end token itself is not yielded). Stops at any of
    /// <paramref name="stopTokens"/>, after <see cref="SamplingOptions.MaxNewTokens"/>, or when the context is full.</summary>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, SamplingOptions options, IReadOnlySet<int> stopTokens,
        CancellationToken cancel = default)
    {
        if (prompt.Count == 0) throw new SharpLMException("the prompt is empty: at least one token (e.g. the begin token) is needed");
        long maxPositions = model.Config.MaxPositionEmbeddings;
        if (prompt.Count > maxPositions)
            throw new SharpLMException($"the prompt has {prompt.Count} tokens, more than the model's context of {maxPositions}");
        var sampler = new TokenSampler(options);
        var context = new List<int>(prompt);
        long capacity = Math.Min(maxPositions, prompt.Count + (long)options.MaxNewTokens);
        using var cache = useKvCache ? new KvCache(model.Config, 1, capacity, model.model.norm.weight.dtype, model.Device) : null;
        LastStopReason = null;

        var logits = new float[model.Config.VocabSize];
        ForwardLastLogits(context, context.Count, cache, logits);
        for (int produced = 0; ; produced++)
        {
            if (produced >= options.MaxNewTokens) { LastStopReason = StopReason.MaxTokens; yield break; }
            if (cancel.IsCancellationRequested) { LastStopReason = StopReason.Cancelled; yield break; }
            var next = sampler.Next(logits, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(context));
            if (options.StopAtEos && stopTokens.Contains(next)) { LastStopReason = StopReason.EndToken; yield break; }
            context.Add(next);
            yield return next;
            if (produced + 1 >= options.MaxNewTokens) { LastStopReason = StopReason.MaxTokens; yield break; }
            if (context.Count >= maxPositions) { LastStopReason = StopReason.ContextFull; yield break; }
            if (cancel.IsCancellationRequested) { LastStopReason = StopReason.Cancelled; yield break; } // before the forward pass
            ForwardLastLogits(context, 1, cache, logits);
        }
    }

    /// <summary>
    /// The one generate-and-stream loop that every caller of text generation uses (<c>sharplm generate</c> and
    /// <c>chat</c>, the server and the IChatClient through <see cref="TextGenerator"/>, exact-match evaluation):
    /// generates tokens, decodes them incrementally (<see cref="StreamingText"/>), passes text to
    /// <paramref name="onText"/> as soon as it is safe to show (never a split character or the start of a stop
    /// string, never a stop string itself), and stops at a stop token, a stop string, the token limit, a full context
    /// or <paramref name="cancel"/>.
    /// </summary>
    public GenerationResult GenerateText(GenerationRequest request, ITokenizer tokenizer, Action<string>? onText = null,
        CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var text = new StreamingText(tokenizer, request.Options.StopStrings);
        int produced = 0;
        foreach (var id in Generate(request.Prompt, request.Options, request.StopTokens, cancel))
        {
            produced++;
            if (text.Push(id) is { Length: > 0 } ready) onText?.Invoke(ready);
            if (text.Stopped) break;
        }
        if (text.Flush() is { Length: > 0 } rest) onText?.Invoke(rest);
        var reason = text.Stopped ? StopReason.StopString : LastStopReason ?? StopReason.MaxTokens;
        return new GenerationResult(text.Text, reason, request.Prompt.Length, produced, clock.Elapsed);
    }

    /// <summary>Runs the model over the last <paramref name="newTokens"/> of the context (all of it without a
    /// cache) and copies the final position's logits as fp32 into <paramref name="logits"/>.</summary>
    void ForwardLastLogits(List<int> context, int newTokens, KvCache? cache, float[] logits) =>
        IntraOpThreads.Run(IntraOpThreads.ForPass(model, cache is null ? context.Count : newTokens, context.Count, DecodeThreads), () =>
        {
            Forward(context, newTokens, cache, logits);
            return 0;
        });

    void Forward(List<int> context, int newTokens, KvCache? cache, float[] logits)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad(); // only here: the caller runs between yields
        var ids = cache is null ? context : context.GetRange(context.Count - newTokens, newTokens);
        var input = tensor(ids.Select(i => (long)i).ToArray(), dtype: int64, device: model.Device).view(1, -1);
        var hidden = model.model.forward(input, new ForwardOptions { Cache = cache });
        var last = model.Head(hidden[0, -1]).to(float32, CPU).contiguous(); // sampled on the CPU
        last.data<float>().CopyTo(logits);
    }
}
