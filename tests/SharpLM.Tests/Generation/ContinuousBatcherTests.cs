using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Generation;

public sealed class ContinuousBatcherTests
{
    static readonly IReadOnlySet<int> NoStop = new HashSet<int>();

    [Fact]
    public void RowsOfDifferentLengthsDecodeAsEachSequenceDoesAlone()
    {
        using var model = TestModels.Tiny(seed: 5);
        int[][] prompts = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22], [23, 24]];
        int[] next = [30, 31, 32, 33];
        using var slots = new SlotKvCache(model.Config, slots: 5, capacity: 32);
        using var noGrad = no_grad();
        foreach (var prompt in prompts)
        {
            using var single = new KvCache(model.Config, 1, 32);
            using var scope = NewDisposeScope();
            model.model.forward(tensor(prompt.Select(i => (long)i).ToArray()).view(1, -1), new ForwardOptions { Cache = single });
            slots.AddRow(single, single.Length);
        }
        Assert.Equal(12, slots.Length);
        // Row 1 leaves: the last row moves into its place.
        Assert.Equal(3, slots.RemoveRow(1));
        int[] order = [0, 3, 2];

        for (int step = 0; step < 2; step++)
        {
            using var scope = NewDisposeScope();
            var (positions, mask) = slots.DecodeInputs();
            Assert.NotNull(mask);
            var ids = tensor(order.Select(i => (long)next[i] + step).ToArray()).view(3, 1);
            var batched = model.forward(ids, new ForwardOptions { PositionIds = positions, Mask = mask, Cache = slots });
            for (int row = 0; row < 3; row++)
            {
                var i = order[row];
                var alone = TestModels.LastLogits(model, [.. prompts[i], .. Enumerable.Range(0, step + 1).Select(s => next[i] + s)]);
                var rowLogits = batched[row, 0].data<float>().ToArray();
                Assert.True(alone.Zip(rowLogits).Max(p => Math.Abs(p.First - p.Second)) < 1e-5, $"row {row}, step {step}");
            }
        }
        Assert.Equal([3 + 2, 2 + 2, 12 + 2], Enumerable.Range(0, 3).Select(r => slots.RowLength(r)));
    }

    [Theory]
    [InlineData(false)]
    // 8-bit weights: chunks of 4 rows take the decoding kernel, a single pass the prompt's, which round differently;
    // the greedy tokens still agree on this model.
    [InlineData(true)]
    public async Task ConcurrentRequestsGetWhatEachGetsAloneWhateverTheirLengthsLimitsAndStops(bool quantised)
    {
        using var dir = new TempDirectory();
        using var loaded = PretrainedModel.Load(TestModels.TinyFolder(dir.Path, seed: 4));
        if (quantised) Assert.True(loaded.Model.QuantizeForInference() > 0);
        var greedy = SamplingOptions.Greedy with { StopAtEos = false };
        var requests = new[]
        {
            Request("the old house", greedy with { MaxNewTokens = 20 }),
            Request("a", greedy with { MaxNewTokens = 7 }),
            Request("the river ran past the old mill and the house by the water", greedy with { MaxNewTokens = 15 }),
            Request("in the morning", new SamplingOptions { Seed = 11, MaxNewTokens = 12, Temperature = 0.8f, StopAtEos = false }),
            Request("the house", greedy with { MaxNewTokens = 25, RepetitionPenalty = 1.3f, RepetitionPenaltyRange = 4 }),
            Request("by the river the", greedy with { MaxNewTokens = 0 }),
        };
        var alone = new TokenGenerator(loaded.Model);
        var expected = requests.Select(r => alone.GenerateText(r, loaded.Tokenizer)).ToArray();
        // A stop string from the middle of one answer: the batch must stop it there too.
        var stop = expected[2].Text[(expected[2].Text.Length / 2)..][..3];
        requests[2] = requests[2] with { Options = requests[2].Options with { StopStrings = [stop] } };
        expected[2] = alone.GenerateText(requests[2], loaded.Tokenizer);
        Assert.Equal(StopReason.StopString, expected[2].Reason);

        using var batcher = new ContinuousBatcher(loaded.Model, loaded.Tokenizer, new BatchingOptions { MaxBatch = 3, PrefillChunk = 4 });
        using var cancel = new CancellationTokenSource();
        var streamed = requests.Select(_ => new System.Text.StringBuilder()).ToArray();
        var cancelledText = new System.Text.StringBuilder();
        // The first request's first text holds the worker until every request is queued, so they overlap whatever the load.
        using var allQueued = new ManualResetEventSlim();
        var cancelled = batcher.Submit(requests[0] with { Options = greedy with { MaxNewTokens = 60 } }, piece =>
        {
            allQueued.Wait(TimeSpan.FromSeconds(30));
            cancelledText.Append(piece);
            if (cancelledText.Length > 5) cancel.Cancel();
        }, cancel.Token);
        var submitted = requests.Select((r, i) => batcher.Submit(r, piece => streamed[i].Append(piece))).ToArray();
        allQueued.Set();
        var results = await Task.WhenAll(submitted);

        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(expected[i] with { Elapsed = default }, results[i] with { Elapsed = default });
            Assert.Equal(expected[i].Text, streamed[i].ToString());
        }
        var stopped = await cancelled;
        Assert.Equal(StopReason.Cancelled, stopped.Reason);
        Assert.StartsWith(stopped.Text, alone.GenerateText(requests[0] with { Options = greedy with { MaxNewTokens = 60 } }, loaded.Tokenizer).Text);
        Assert.InRange(stopped.CompletionTokens, 1, 59);
        Assert.Equal(0, batcher.Running);
        var (steps, tokens) = batcher.Decoded;
        Assert.True(tokens > steps + 10, $"{tokens} tokens in {steps} steps: the requests should have been decoded together");

        GenerationRequest Request(string text, SamplingOptions options) => new(loaded.EncodePrompt(text), options, NoStop);
    }

    [Fact]
    public async Task ASlotHoldsWhatTheBudgetAllowsAndALongerPromptIsRefusedBeforeItWaits()
    {
        using var model = TestModels.Tiny(seed: 2);
        long perPosition = SlotKvCache.BytesPerPosition(model.Config, ScalarType.Float32);
        using var batcher = new ContinuousBatcher(model, TestCorpus.Tokenizer,
            new BatchingOptions { MaxBatch = 2, KvCacheBytes = perPosition * 2 * 10 });
        Assert.Equal(10, batcher.SlotCapacity);
        Assert.Equal(perPosition * 10 * 3, batcher.KvCacheBytes);
        var tooLong = new GenerationRequest(Enumerable.Range(1, 11).ToArray(), SamplingOptions.Greedy, NoStop);
        // Submit throws at once (not through the task), before the request queues.
        var error = Assert.IsType<SharpLMException>(Record.Exception(SubmitTooLong));
        Assert.Contains("more than one sequence may hold (10", error.Message);
        Assert.Contains("KvCacheBytes", error.Message);

        var full = await batcher.Submit(new GenerationRequest([1, 2, 3, 4], SamplingOptions.Greedy with { StopAtEos = false }, NoStop));
        Assert.Equal(StopReason.ContextFull, full.Reason);
        Assert.Equal(6, full.CompletionTokens);
        Assert.Throws<SharpLMException>(() => new ContinuousBatcher(model, TestCorpus.Tokenizer, new BatchingOptions { KvCacheBytes = 10 }));

        void SubmitTooLong() => batcher.Submit(tooLong);
    }

    [Fact]
    public async Task AWaitingRequestThatIsCancelledLeavesTheQueueAtOnce()
    {
        using var model = TestModels.Tiny(seed: 2);
        using var batcher = new ContinuousBatcher(model, TestCorpus.Tokenizer, new BatchingOptions { MaxBatch = 1 });
        var options = SamplingOptions.Greedy with { StopAtEos = false, MaxNewTokens = 50 };
        using var blockFirst = new SemaphoreSlim(0);
        var first = batcher.Submit(new GenerationRequest([1, 2], options, NoStop), _ => blockFirst.Wait());
        using var cancel = new CancellationTokenSource();
        var second = batcher.Submit(new GenerationRequest([3, 4], options, NoStop), cancel: cancel.Token);
        cancel.Cancel();
        blockFirst.Release(1000);
        var result = await second;
        Assert.Equal(StopReason.Cancelled, result.Reason);
        Assert.Equal(0, result.CompletionTokens);
        Assert.Equal(StopReason.MaxTokens, (await first).Reason);
    }
}
