using SharpLM.Generation;
using SharpLM.Hub;
using Xunit;

namespace SharpLM.Tests.Generation;

public class GenerationTests
{
    static readonly HashSet<int> NoStop = [];

    [Fact]
    public void KvCacheAndFullRecomputeGenerateTheSameTokens()
    {
        using var model = TestModels.Tiny();
        var prompt = new[] { 1, 5, 9, 3 };
        var withCache = new TokenGenerator(model).Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = 20 }, NoStop).ToArray();
        var without = new TokenGenerator(model, useKvCache: false)
            .Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = 20 }, NoStop).ToArray();
        Assert.Equal(20, withCache.Length);
        Assert.Equal(without, withCache);

        var sampled1 = new TokenGenerator(model).Generate(prompt, new SamplingOptions { Seed = 3, MaxNewTokens = 20 }, NoStop).ToArray();
        var sampled2 = new TokenGenerator(model, useKvCache: false)
            .Generate(prompt, new SamplingOptions { Seed = 3, MaxNewTokens = 20 }, NoStop).ToArray();
        Assert.Equal(sampled1, sampled2);
    }

    [Fact]
    public void DecodingOnOneThreadGivesTheSameTokensAndLeavesTheThreadCountAsItWas()
    {
        using var model = TestModels.Tiny();
        var prompt = new[] { 1, 5, 9, 3 };
        int before = TorchSharp.torch.get_num_threads();
        var options = new SamplingOptions { Seed = 4, MaxNewTokens = 20 };
        var oneThread = new TokenGenerator(model) { DecodeThreads = 1 };
        int seenInside = 0;
        var tokens = oneThread.Generate(prompt, options, NoStop)
            .Select(t => { seenInside = TorchSharp.torch.get_num_threads(); return t; }).ToArray();
        Assert.Equal(before, seenInside); // restored between tokens, so the caller's own work keeps every thread
        Assert.Equal(before, TorchSharp.torch.get_num_threads());
        Assert.Equal(new TokenGenerator(model) { DecodeThreads = 0 }.Generate(prompt, options, NoStop).ToArray(), tokens);
    }

    [Fact]
    public void DecodingOnOneThreadIsTheDefaultOnceTheHostConfiguredTheProcess()
    {
        // The tests' module initializer calls NativeEnvironment.Configure, as the CLI's Main does.
        Assert.True(SharpLM.Runtime.NativeEnvironment.IsConfigured);
        using var model = TestModels.Tiny();
        Assert.Equal(1, new TokenGenerator(model).DecodeThreads);
    }

    [Fact]
    public void StopsAtTheEndTokenWithoutYieldingIt()
    {
        using var model = TestModels.Tiny();
        var prompt = new[] { 1, 5 };
        var generator = new TokenGenerator(model);
        var free = generator.Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = 10 }, NoStop).ToArray();
        Assert.Equal(StopReason.MaxTokens, generator.LastStopReason);
        // Declare the third greedy token an end token: generation must stop right before it.
        var stopped = generator.Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = 10 }, new HashSet<int> { free[2] }).ToArray();
        Assert.Equal(StopReason.EndToken, generator.LastStopReason);
        Assert.Equal(free.TakeWhile(t => t != free[2]).ToArray(), stopped);
    }

    [Fact]
    public void StopsWhenTheContextIsFull()
    {
        using var model = TestModels.Tiny(); // 64 positions
        var generator = new TokenGenerator(model);
        var produced = generator.Generate(Enumerable.Repeat(1, 60).ToArray(), SamplingOptions.Greedy with { MaxNewTokens = 50 }, NoStop).ToArray();
        Assert.Equal(4, produced.Length);
        Assert.Equal(StopReason.ContextFull, generator.LastStopReason);
        Assert.Throws<SharpLMException>(() => generator.Generate([], SamplingOptions.Greedy, NoStop).ToArray());
    }

    [Fact]
    public void StreamingTextHoldsBackSplitCharactersAndStopStrings()
    {
        var tok = new TestByteTokenizer();
        var stream = new StreamingText(tok, ["END"]);
        var shown = new List<string>();
        foreach (var id in tok.Encode("héllo 🌍 wEN wEND tail"))
        {
            var piece = stream.Push(id);
            Assert.DoesNotContain('\uFFFD', piece);
            shown.Add(piece);
            if (stream.Stopped) break;
        }
        shown.Add(stream.Flush());
        Assert.True(stream.Stopped);
        Assert.Equal("héllo 🌍 wEN w", string.Concat(shown));
        Assert.Equal("héllo 🌍 wEN w", stream.Text);
    }

    [Fact]
    public void StreamingTextKeepsTheSpacesOfSentencePieceTokens()
    {
        // Alone, "▁ab" decodes as "ab": the decoder strips the space it takes for the one the normalizer added.
        var tok = Tokenization.SentencePieceBpeTokenizerTests.Tiny();
        var stream = new StreamingText(tok, []);
        var ids = tok.Encode("ab ab é abc");
        var shown = string.Concat(ids.Select(stream.Push)) + stream.Flush();
        Assert.Equal("ab ab é abc", shown);
        Assert.Equal("ab ab é abc", stream.Text);
    }

    [Fact]
    public void StreamingTextFlushesHeldTextAtTheEnd()
    {
        var tok = new TestByteTokenizer();
        var stream = new StreamingText(tok, ["STOP"]);
        var shown = string.Concat(tok.Encode("ab ST").Select(stream.Push));
        Assert.Equal("ab ", shown); // "ST" might start "STOP"
        Assert.Equal("ST", stream.Flush());
        Assert.False(stream.Stopped);
    }

    [Fact]
    public void GenerateTextStreamsTheDecodeOfTheTokensAndSaysWhyItEnded()
    {
        var tok = Tokenization.TestCorpus.Tokenizer;
        using var model = TestModels.Tiny(vocab: tok.VocabSize, seed: 3);
        var prompt = tok.Encode("the old house");
        var options = SamplingOptions.Greedy with { MaxNewTokens = 12 };
        var generator = new TokenGenerator(model);
        var tokens = generator.Generate(prompt, options, NoStop).ToArray();

        var pieces = new List<string>();
        var result = generator.GenerateText(new GenerationRequest(prompt, options, NoStop), tok, pieces.Add);
        Assert.Equal(tok.Decode(tokens, skipSpecial: true), result.Text);
        Assert.Equal(result.Text, string.Concat(pieces));
        Assert.Equal((StopReason.MaxTokens, prompt.Length, 12), (result.Reason, result.PromptTokens, result.CompletionTokens));

        // The same tokens ended by the end token, then by a stop string (left out of the text) ...
        var atEnd = generator.GenerateText(new GenerationRequest(prompt, options, new HashSet<int> { tokens[4] }), tok);
        Assert.Equal((StopReason.EndToken, Array.IndexOf(tokens, tokens[4])), (atEnd.Reason, atEnd.CompletionTokens));
        string stop = result.Text.Length >= 6 ? result.Text[3..5] : throw new InvalidOperationException($"too short: \"{result.Text}\"");
        var atStop = generator.GenerateText(new GenerationRequest(prompt, options with { StopStrings = [stop] }, NoStop), tok);
        Assert.Equal((StopReason.StopString, result.Text[..result.Text.IndexOf(stop, StringComparison.Ordinal)]), (atStop.Reason, atStop.Text));

        // ... and by a cancel that comes with the second piece of text, before another forward pass.
        using var cancel = new CancellationTokenSource();
        int seen = 0;
        var cancelled = generator.GenerateText(new GenerationRequest(prompt, options, NoStop), tok,
            _ => { if (++seen == 2) cancel.Cancel(); }, cancel.Token);
        Assert.Equal(StopReason.Cancelled, cancelled.Reason);
        Assert.True(cancelled.CompletionTokens < 12, $"{cancelled.CompletionTokens} tokens after the cancel");
    }

    [Fact]
    public async Task TextGeneratorStreamsTheSameTextAndAReaderThatStopsEarlyFreesTheModel()
    {
        var tokenizer = Tokenization.TestCorpus.Tokenizer;
        using var dir = new TempDirectory();
        using (var model = TestModels.Tiny(vocab: tokenizer.VocabSize, seed: 3)) ModelFolder.Save(dir.Path, model, tokenizer);
        using var loaded = PretrainedModel.Load(dir.Path);
        var request = new GenerationRequest(loaded.EncodePrompt("the old house"), SamplingOptions.Greedy with { MaxNewTokens = 10 },
            loaded.StopTokens());
        var expected = new TokenGenerator(loaded.Model).GenerateText(request, loaded.Tokenizer);
        using var generator = new TextGenerator(loaded.Model, loaded.Tokenizer);

        var updates = new List<GenerationUpdate>();
        await foreach (var update in generator.StreamAsync(request)) updates.Add(update);
        Assert.Equal(expected.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(expected with { Elapsed = default }, updates[^1].Result! with { Elapsed = default });
        Assert.All(updates[..^1], u => Assert.Null(u.Result));

        await foreach (var _ in generator.StreamAsync(request)) break; // the caller goes away after the first piece
        var next = generator.GenerateAsync(request);
        Assert.Same(next, await Task.WhenAny(next, Task.Delay(TimeSpan.FromSeconds(30))));
        Assert.Equal(expected.Text, (await next).Text);
    }
}
