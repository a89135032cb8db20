using System.Text;
using Microsoft.Extensions.AI;
using SharpLM.Chat;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Serving;
using SharpLM.Tests.Tokenization;
using Xunit;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using ChatMessage = SharpLM.Chat.ChatMessage;

namespace SharpLM.Tests.Generation;

/// <summary>The in-process <see cref="IChatClient"/>: the same answers as the generator, through Microsoft.Extensions.AI's types.</summary>
public sealed class SharpLMChatClientTests : IDisposable
{
    const string Question = "the old house by the river";
    readonly TempDirectory dir = new();
    readonly IChatClient client;
    readonly PretrainedModel loaded;

    public SharpLMChatClientTests()
    {
        var config = TestModels.TinyConfig(vocab: TestCorpus.Tokenizer.VocabSize);
        config.MaxPositionEmbeddings = 256; // ChatML's markers are many tokens with this small tokenizer
        using (var model = new LlamaForCausalLM(config))
        {
            model.InitializeWeights(5);
            ModelFolder.Save(dir.Path, model, TestCorpus.Tokenizer);
        }
        ChatTemplates.ChatMl.Save(dir.Path);
        client = SharpLMChatClient.Load(dir.Path);
        loaded = client.GetService<PretrainedModel>()!;
    }

    public void Dispose()
    {
        client.Dispose();
        dir.Dispose();
    }

    string DirectGreedy(string question, int maxTokens)
    {
        var prompt = ChatTemplates.ChatMl.RenderPrompt(loaded.Tokenizer, [new ChatMessage(ChatMessage.UserRole, question)]);
        var text = new StreamingText(loaded.Tokenizer, ChatTemplates.ChatMl.StopStrings);
        foreach (var id in new TokenGenerator(loaded.Model)
                     .Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = maxTokens }, loaded.StopTokens()))
        {
            text.Push(id);
            if (text.Stopped) break;
        }
        text.Flush();
        return text.Text;
    }

    [Fact]
    public async Task AnswersWithTheModelsSavedTemplateAndReportsUsage()
    {
        var expected = DirectGreedy(Question, 10);
        Assert.NotEmpty(expected);
        var response = await client.GetResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 10 });

        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.Equal(10, response.Usage?.OutputTokenCount);
        Assert.Equal(ChatTemplates.ChatMl.RenderPrompt(loaded.Tokenizer, [new ChatMessage("user", Question)]).Length,
            response.Usage?.InputTokenCount);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(Path.GetFileName(dir.Path), client.GetService<ChatClientMetadata>()?.DefaultModelId);
        Assert.Equal("chatml", ((SharpLMChatClient)client).Template.Name);
    }

    [Fact]
    public async Task StreamingGivesTheSameTextThenTheFinishReasonAndUsage()
    {
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Question, options)) updates.Add(update);

        Assert.Equal(DirectGreedy(Question, 12), string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        Assert.Equal(12, updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);
        var combined = updates.ToChatResponse();
        Assert.Equal(DirectGreedy(Question, 12), combined.Text);
    }

    [Fact]
    public async Task StopSequencesSeedsAndSystemMessagesAreHonoured()
    {
        var full = DirectGreedy(Question, 16);
        Assert.True(full.Length >= 6, $"the tiny model's answer is too short for this test: \"{full}\"");
        var stop = full[3..5];
        var stopped = await client.GetResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 16, StopSequences = [stop] });
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);

        var sampling = new ChatOptions { Temperature = 1.5f, TopK = 0, MaxOutputTokens = 12, Seed = 11 };
        Assert.Equal((await client.GetResponseAsync(Question, sampling)).Text, (await client.GetResponseAsync(Question, sampling)).Text);

        AIChatMessage[] withSystem = [new(ChatRole.System, "Be brief."), new(ChatRole.User, Question)];
        var expectedPrompt = ChatTemplates.ChatMl.RenderPrompt(loaded.Tokenizer,
            [new ChatMessage("system", "Be brief."), new ChatMessage("user", Question)]);
        Assert.Equal(expectedPrompt.Length,
            (await client.GetResponseAsync(withSystem, new ChatOptions { MaxOutputTokens = 1 })).Usage?.InputTokenCount);
    }

    [Fact]
    public async Task AReaderThatStopsEarlyFreesTheModelForTheNextCall()
    {
        await foreach (var _ in client.GetStreamingResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 40 })) break;
        var next = client.GetResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });
        Assert.Same(next, await Task.WhenAny(next, Task.Delay(TimeSpan.FromSeconds(30))));
        Assert.Equal(DirectGreedy(Question, 8), (await next).Text);
    }

    [Fact]
    public async Task WhatAModelCannotDoIsRefusedWithAReason()
    {
        var tool = AIFunctionFactory.Create(() => 42, "answer");
        var e1 = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Question, new ChatOptions { Tools = [tool] }));
        Assert.Contains("tools", e1.Message);
        var e2 = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(
            [new AIChatMessage(ChatRole.User, [new DataContent(new byte[] { 1, 2 }, "image/png")])]));
        Assert.Contains("messages[0]: DataContent is not supported", e2.Message);
        var e3 = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync([new AIChatMessage(ChatRole.Tool, "42")]));
        Assert.Contains("the role \"tool\" is not supported", e3.Message);
        var e4 = await Assert.ThrowsAsync<SharpLMException>(() => client.GetResponseAsync(string.Join(' ', Enumerable.Repeat(Question, 80))));
        Assert.Contains("and the model's context is 256", e4.Message);
        var e5 = await Assert.ThrowsAsync<SamplingFieldException>(() => client.GetResponseAsync(Question, new ChatOptions { TopP = 3 }));
        Assert.Equal(("top_p", "top_p must be in (0, 1], got 3"), (e5.Field, e5.Message));
    }

    [Theory]
    [InlineData("ignore_eos", "yes")]
    [InlineData("min_p", 2f)]
    [InlineData("repetition_penalty", -1f)]
    [InlineData("repetition_penalty_range", -1)]
    public async Task SettingsBeyondChatOptionsAreReadAndCheckedAsTheServerDoes(string name, object value)
    {
        var options = new ChatOptions { AdditionalProperties = new() { [name] = value } };
        var e = await Assert.ThrowsAsync<SamplingFieldException>(() => client.GetResponseAsync(Question, options));
        Assert.Equal(name, e.Field);
    }

    [Fact]
    public void TheModelIdIsTheOneServeGivesTheFolder()
    {
        var run = Path.Combine(dir.Path, "demo-ft", "final");
        Directory.CreateDirectory(run);
        foreach (var file in Directory.GetFiles(dir.Path)) File.Copy(file, Path.Combine(run, Path.GetFileName(file)));
        using var fromRun = SharpLMChatClient.Load(run);
        Assert.Equal("demo-ft/final", fromRun.GetService<ChatClientMetadata>()?.DefaultModelId);
        Assert.Equal(PretrainedModel.IdOf(run), fromRun.GetService<PretrainedModel>()!.Id);
    }
}
