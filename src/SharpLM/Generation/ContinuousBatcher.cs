using SharpLM.Model;
using SharpLM.Tokenization;
using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>
/// Continuous batching: concurrent generations share the model, one forward pass per step serving every sequence
/// in flight. A request joins the running batch at a token boundary once a slot of the KV cache is free (otherwise
/// it waits, first come first served); its prompt is prefilled in chunks between decoding steps, and a finished or
/// cancelled sequence frees its slot at once. Each sequence keeps its own sampling options, seed, stop tokens and
/// strings. One worker thread runs the model; <see cref="Submit"/> may be called from any thread.
/// </summary>
public sealed class ContinuousBatcher : IDisposable
{
    readonly LlamaForCausalLM model;
    readonly ITokenizer tokenizer;
    readonly BatchingOptions options;
    readonly SlotKvCache slots;
    readonly KvCache prefillCache;
    readonly Queue<BatchedSequence> waiting = new();
    readonly List<BatchedSequence> decoding = []; // index = row in the slot cache
    readonly object gate = new();
    readonly SemaphoreSlim wake = new(0);
    readonly Thread worker;
    BatchedSequence? prefilling;
    long decodeSteps, decodedTokens;
    volatile bool stopping;

    public ContinuousBatcher(LlamaForCausalLM model, ITokenizer tokenizer, BatchingOptions? options = null)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options ?? new BatchingOptions();
        this.options.Validate();
        var dtype = model.model.norm.weight.dtype;
        long perPosition = SlotKvCache.BytesPerPosition(model.Config, dtype);
        SlotCapacity = Math.Min(model.Config.MaxPositionEmbeddings, this.options.KvCacheBytes / (perPosition * this.options.MaxBatch));
        if (SlotCapacity < 1)
            throw new SharpLMException($"KvCacheBytes {this.options.KvCacheBytes} cannot hold one position for each of MaxBatch " +
                                       $"{this.options.MaxBatch} sequences ({perPosition} bytes each)");
        slots = new SlotKvCache(model.Config, this.options.MaxBatch, SlotCapacity, dtype, model.Device);
        prefillCache = new KvCache(model.Config, 1, SlotCapacity, dtype, model.Device);
        KvCacheBytes = perPosition * SlotCapacity * (this.options.MaxBatch + 1);
        worker = new Thread(Run) { IsBackground = true, Name = "SharpLM continuous batching" };
        worker.Start();
    }

    /// <summary>Most positions (prompt and generated tokens) one sequence can hold.</summary>
    public long SlotCapacity { get; }

    /// <summary>Memory the KV cache took: <see cref="BatchingOptions.MaxBatch"/> slots and one for prefilling.</summary>
    public long KvCacheBytes { get; }

    public int MaxBatch => options.MaxBatch;

    /// <summary>Decoding steps run so far, and tokens they produced (their ratio is the mean batch size).</summary>
    public (long Steps, long Tokens) Decoded => (decodeSteps, decodedTokens);

    /// <summary>Sequences decoding right now (for monitoring).</summary>
    public int Running { get { lock (gate) return decoding.Count; } }

    /// <summary>Queues a generation and returns its result once it ends. Text is passed to <paramref name="onText"/>
    /// as soon as it is safe to show, on the worker thread: keep it short (e.g. write to a channel). Cancelling ends
    /// the generation at the next token (or before it starts), with <see cref="StopReason.Cancelled"/>.</summary>
    public Task<GenerationResult> Submit(GenerationRequest request, Action<string>? onText = null, CancellationToken cancel = default)
    {
        ObjectDisposedException.ThrowIf(stopping, this);
        if (request.Prompt.Length == 0) throw new SharpLMException("the prompt is empty: at least one token (e.g. the begin token) is needed");
        if (request.Prompt.Length > SlotCapacity)
            throw new SharpLMException($"the prompt has {request.Prompt.Length} tokens, more than one sequence may hold ({SlotCapacity}: " +
                                       (SlotCapacity < model.Config.MaxPositionEmbeddings
                                           ? "raise KvCacheBytes or lower MaxBatch)"
                                           : "the model's context)"));
        request.Options.BuildProcessors(); // checks the options here, in the caller's thread
        var sequence = new BatchedSequence(request, tokenizer, onText, cancel);
        lock (gate) waiting.Enqueue(sequence);
        wake.Release();
        if (cancel.CanBeCanceled)
        {
            // A waiting request that is cancelled leaves the queue at once rather than when its turn comes.
            var registration = cancel.Register(() => { if (!stopping) wake.Release(); });
            sequence.Result.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }
        return sequence.Result;
    }

    void Run()
    {
        while (!stopping)
        {
            Admit();
            if (prefilling is null && decoding.Count == 0)
            {
                wake.Wait();
                continue;
            }
            if (prefilling is not null) PrefillChunk();
            if (decoding.Count > 0) DecodeStep();
        }
    }

    /// <summary>Drops cancelled waiters and starts prefilling the next request when a slot is free.</summary>
    void Admit()
    {
        lock (gate)
        {
            if (waiting.Any(s => s.Cancelled))
            {
                var all = waiting.ToList();
                waiting.Clear();
                foreach (var s in all)
                    if (s.Cancelled) s.Finish(StopReason.Cancelled);
                    else waiting.Enqueue(s);
            }
            if (prefilling is null && decoding.Count < options.MaxBatch && waiting.Count > 0)
            {
                prefilling = waiting.Dequeue();
                prefillCache.Reset();
            }
        }
    }

    /// <summary>Runs the next chunk of the prefilling prompt; after the last one, samples its first token and moves
    /// the sequence into a decoding row.</summary>
    void PrefillChunk()
    {
        var sequence = prefilling!;
        try
        {
            if (sequence.Cancelled)
            {
                sequence.Finish(StopReason.Cancelled);
                prefilling = null;
                return;
            }
            var prompt = sequence.Request.Prompt;
            int count = Math.Min(options.PrefillChunk, prompt.Length - sequence.Prefilled);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var chunk = prompt.AsSpan(sequence.Prefilled, count).ToArray().Select(i => (long)i).ToArray();
            var ids = tensor(chunk, dtype: int64, device: model.Device).view(1, -1);
            var threads = IntraOpThreads.ForPass(model, count, sequence.Prefilled + count, options.DecodeThreads);
            var hidden = IntraOpThreads.Run(threads, () => model.model.forward(ids, new ForwardOptions { Cache = prefillCache }));
            sequence.Prefilled += count;
            if (sequence.Prefilled < prompt.Length) return;
            prefilling = null;
            var logits = model.Head(hidden[.., -1]).to(float32, CPU).contiguous().data<float>().ToArray();
            if (!sequence.Accept(logits, SlotCapacity)) return;
            lock (gate)
            {
                sequence.Row = slots.AddRow(prefillCache, prefillCache.Length);
                decoding.Add(sequence);
            }
        }
        catch (Exception e)
        {
            prefilling = null;
            sequence.Fail(e);
        }
    }

    /// <summary>One token for every decoding sequence in one forward pass; ended sequences leave their rows.</summary>
    void DecodeStep()
    {
        int rows = decoding.Count;
        var vocab = model.Config.VocabSize;
        float[] logits;
        try
        {
            logits = Forward(rows);
        }
        catch (Exception e)
        {
            lock (gate)
            {
                foreach (var s in decoding) s.Fail(e);
                while (slots.Rows > 0) slots.RemoveRow(slots.Rows - 1);
                decoding.Clear();
            }
            return;
        }
        decodeSteps++;
        decodedTokens += rows;
        var ended = new List<int>();
        for (int row = 0; row < rows; row++)
            if (!decoding[row].Accept(logits.AsSpan(row * vocab, vocab), SlotCapacity)) ended.Add(row);
        lock (gate)
        {
            // Highest rows first: the row that moves into a freed one has then already been looked at.
            for (int i = ended.Count - 1; i >= 0; i--)
            {
                int row = ended[i], moved = slots.RemoveRow(row);
                if (moved >= 0)
                {
                    decoding[row] = decoding[moved];
                    decoding[row].Row = row;
                }
                decoding.RemoveAt(decoding.Count - 1);
            }
        }
    }

    float[] Forward(int rows) => IntraOpThreads.Run(options.DecodeThreads, () =>
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(decoding.Select(s => (long)s.Pending).ToArray(), dtype: int64, device: model.Device).view(rows, 1);
        var (positions, mask) = slots.DecodeInputs();
        var hidden = model.model.forward(ids, new ForwardOptions { PositionIds = positions, Mask = mask, Cache = slots });
        return model.Head(hidden[.., -1]).to(float32, CPU).contiguous().data<float>().ToArray(); // sampled on the CPU
    });

    /// <summary>Stops the worker; generations still waiting or running fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (stopping) return;
        stopping = true;
        wake.Release();
        worker.Join();
        var gone = new ObjectDisposedException(nameof(ContinuousBatcher));
        lock (gate)
        {
            foreach (var s in waiting.Concat(decoding)) s.Fail(gone);
            prefilling?.Fail(gone);
        }
        slots.Dispose();
        prefillCache.Dispose();
        wake.Dispose();
    }
}
