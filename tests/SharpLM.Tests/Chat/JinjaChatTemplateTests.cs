using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Hub;
using SharpLM.Tests.Tokenization;
using Xunit;

namespace SharpLM.Tests.Chat;

/// <summary>A model folder's own chat_template (tokenizer_config.json) drives prompts and training masks.</summary>
public sealed class JinjaChatTemplateTests : IDisposable
{
    readonly TempDirectory dir = new();
    static readonly JsonElement Templates = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("chat-templates", "templates.json"))).RootElement;
    static readonly JsonElement Expected = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("chat-templates", "expected.json"))).RootElement;

    public void Dispose() => dir.Dispose();

    /// <summary>A folder whose tokenizer_config.json is the fixture's config for <paramref name="family"/>.</summary>
    string ModelFolder(string family, string? chatTemplate = null)
    {
        var t = Templates.GetProperty(family);
        var config = new JsonObject
        {
            ["chat_template"] = chatTemplate ?? t.GetProperty("chat_template").GetString(),
            ["bos_token"] = t.GetProperty("bos_token").GetString(),
            // transformers writes special tokens either as strings or as AddedToken objects
            ["eos_token"] = new JsonObject { ["content"] = t.GetProperty("eos_token").GetString(), ["special"] = true },
        };
        var folder = dir.File(family);
        dir.Write($"{family}/tokenizer_config.json", config.ToJsonString());
        return folder;
    }

    static string ExpectedText(string family, string conversation, bool addGenerationPrompt) =>
        Expected.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("template").GetString() == family &&
            c.GetProperty("conversation").GetString() == conversation && c.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt)
            .GetProperty("output").GetString()!;

    static List<ChatMessage> Conversation(string name) => Expected.GetProperty("conversations").GetProperty(name).EnumerateArray()
        .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();

    [Theory]
    [InlineData("qwen2_5")]
    [InlineData("gemma3")]
    [InlineData("zephyr")]
    public void PromptsAreTheModelsTemplateRenderedWithGenerationPrompt(string family)
    {
        var template = Assert.IsType<JinjaChatTemplate>(ChatTemplates.LoadFromModel(ModelFolder(family)));
        Assert.Equal(JinjaChatTemplate.ModelsOwnName, template.Name);
        Assert.Equal([Templates.GetProperty(family).GetProperty("eos_token").GetString()!], template.StopStrings);
        var tokenizer = TestCorpus.Tokenizer;
        Assert.Equal(tokenizer.Encode(ExpectedText(family, "two_turns", true), allowSpecial: true),
            template.RenderPrompt(tokenizer, Conversation("two_turns")));
    }

    [Theory]
    [InlineData("qwen2_5", new[] { "Blue.<|im_end|>\n", "Green.<|im_end|>\n" })]
    [InlineData("zephyr", new[] { "Blue.</s>\n", "Green.</s>\n" })]
    [InlineData("gemma3", new[] { "Blue.<end_of_turn>\n", "Green.<end_of_turn>\n" })]
    public void TrainingMarksEachAnswerAndItsEndAndNothingElse(string family, string[] answers)
    {
        var template = ChatTemplates.LoadFromModel(ModelFolder(family))!;
        var tokenizer = TestCorpus.Tokenizer;
        var rendered = template.Render(tokenizer, new Conversation(Conversation("answered")));

        Assert.Equal(ExpectedText(family, "answered", false), tokenizer.Decode(rendered.Ids));
        var answerRuns = new List<string>();
        for (int i = 0; i < rendered.Ids.Length; i++)
        {
            if (!rendered.InAnswer[i]) continue;
            int start = i;
            while (i < rendered.Ids.Length && rendered.InAnswer[i]) i++;
            answerRuns.Add(tokenizer.Decode(rendered.Ids[start..i]));
        }
        Assert.Equal(answers, answerRuns);

        var example = TemplatedExample.FromConversation(new Conversation(Conversation("answered")), template, tokenizer);
        Assert.Equal(rendered.Ids, example.Ids);
        Assert.Equal(rendered.InAnswer, example.Trained);
        var everything = TemplatedExample.FromConversation(new Conversation(Conversation("answered")), template, tokenizer, trainOnPrompt: true);
        Assert.Equal(example.Ids, everything.Ids);
        Assert.Equal(example.Ids.Length - 1, everything.TrainedTokens);
    }

    [Fact]
    public void ATemplateThatRewritesEarlierTurnsCannotBeTrainedOnAndSaysWhatToDo()
    {
        const string rewriting = "{% for m in messages %}{% if loop.last %}[{{ m.content }}]{% else %}{{ m.content }}{% endif %}{% endfor %}";
        var template = ChatTemplates.LoadFromModel(ModelFolder("qwen2_5", rewriting))!;
        var e = Assert.Throws<SharpLMException>(() =>
            template.Render(TestCorpus.Tokenizer, new Conversation(Conversation("answered"), "chat.jsonl:3")));
        Assert.Contains("chat.jsonl:3: the model's chat_template renders the conversation before messages[1] differently", e.Message);
        Assert.EndsWith("use the chatml template (the template setting) or another SharpLM template instead", e.Message);
    }

    [Fact]
    public void TheTemplatesOwnRefusalReachesTheUser()
    {
        const string refusing = "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
                                "{{ messages[0].content }}";
        var template = ChatTemplates.LoadFromModel(ModelFolder("qwen2_5", refusing))!;
        var e = Assert.Throws<SharpLMException>(() => template.RenderPrompt(TestCorpus.Tokenizer, Conversation("system_user")));
        Assert.Equal("the model's chat_template refused the conversation: System role not supported", e.Message);
    }

    [Fact]
    public void ARunawayTemplateIsStoppedNamingItsFileAndTheLimit()
    {
        var template = ChatTemplates.LoadFromModel(ModelFolder("qwen2_5", "{% for m in messages %}{{ m.content * 10**9 }}{% endfor %}"))!;
        var e = Assert.Throws<SharpLMException>(() => template.RenderPrompt(TestCorpus.Tokenizer, Conversation("system_user")));
        Assert.Contains("tokenizer_config.json: the chat_template was stopped at a limit: line 1: a repeated string would be longer than 4000000 " +
                        "(JinjaLimits.MaxOutputChars)", e.Message);

        var nested = "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}";
        var refused = Assert.Throws<SharpLMException>(() => ChatTemplates.LoadFromModel(ModelFolder("llama3", nested)));
        Assert.Contains("tokenizer_config.json: chat_template line 1: nested deeper than 200 levels (JinjaLimits.MaxDepth)", refused.Message);
    }

    [Fact]
    public void SharpLMsOrderRulesApplyBeforeTheTemplateRuns()
    {
        var template = ChatTemplates.LoadFromModel(ModelFolder("gemma3"))!;
        var e = Assert.Throws<SharpLMException>(() => template.RenderPrompt(TestCorpus.Tokenizer,
            [new ChatMessage("user", "a"), new ChatMessage("assistant", "b"), new ChatMessage("assistant", "c"), new ChatMessage("user", "d")]));
        Assert.Contains("messages[2]", e.Message);
    }

    [Fact]
    public void SavingWritesTheTemplateAndItsTokensToTokenizerConfigOnly()
    {
        var template = ChatTemplates.LoadFromModel(ModelFolder("gemma3"))!;
        var output = dir.File("fine-tuned");
        Directory.CreateDirectory(output);
        template.Save(output);

        Assert.False(File.Exists(Path.Combine(output, PartsChatTemplate.FileName)));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "tokenizer_config.json")))!;
        Assert.Equal(Templates.GetProperty("gemma3").GetProperty("chat_template").GetString(), config["chat_template"]!.GetValue<string>());
        Assert.Equal("<bos>", config["bos_token"]!.GetValue<string>());
        Assert.Equal("<end_of_turn>", config["eos_token"]!.GetValue<string>());
        var reloaded = ChatTemplates.LoadFromModel(output)!;
        Assert.Equal(template.RenderPrompt(TestCorpus.Tokenizer, Conversation("system_user")),
            reloaded.RenderPrompt(TestCorpus.Tokenizer, Conversation("system_user")));
    }

    [Fact]
    public void ATokenDeclaredNullIsLeftOutOfRenderingAndKeptWhenSaving()
    {
        var folder = dir.File("qwen-like");
        dir.Write("qwen-like/tokenizer_config.json", new JsonObject
        {
            ["chat_template"] = "{{ bos_token }}|{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}",
            ["bos_token"] = null, ["eos_token"] = "<|im_end|>",
        }.ToJsonString());
        var template = ChatTemplates.LoadFromModel(folder)!;
        Assert.Equal(TestCorpus.Tokenizer.Encode("|hi<|im_end|>", allowSpecial: true),
            template.RenderPrompt(TestCorpus.Tokenizer, [new ChatMessage("user", "hi")]));

        var output = dir.File("saved");
        Directory.CreateDirectory(output);
        template.Save(output);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "tokenizer_config.json")))!.AsObject();
        Assert.True(config.ContainsKey("bos_token"));
        Assert.Null(config["bos_token"]);
    }

    [Fact]
    public void SharpLMsOwnTemplateFileWinsOverTheJinjaOne()
    {
        var folder = ModelFolder("qwen2_5");
        ChatTemplates.Default.Save(folder); // also rewrites chat_template in tokenizer_config.json, as fine-tuning does
        var loaded = Assert.IsType<PartsChatTemplate>(ChatTemplates.LoadFromModel(folder));
        Assert.Equal("default", loaded.Name);
    }

    [Theory]
    [InlineData("default")]
    [InlineData("chatml")]
    public void SharpLMsOwnTemplatesWrittenAsJinjaRenderTheTextSharpLMTrainsOn(string name)
    {
        // Two implementations that must agree: the part-based renderer, and the Jinja form saved for Hugging Face tools.
        var template = ChatTemplates.Get(name);
        var tokenizer = TestCorpus.Tokenizer;
        var conversation = new Conversation(Conversation("answered"));
        var jinja = SharpLM.Chat.Jinja.JinjaTemplate.Parse(template.JinjaTemplate).Render(new Dictionary<string, object?>
        {
            ["messages"] = conversation.Messages
                .Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["add_generation_prompt"] = false,
            ["bos_token"] = tokenizer.IdToToken(tokenizer.Special.Bos!.Value),
            ["eos_token"] = tokenizer.IdToToken(tokenizer.Special.Eos!.Value),
        });
        Assert.Equal(tokenizer.Decode(template.Render(tokenizer, conversation).Ids), jinja);
    }

    [Fact]
    public void TemplateVariablesReachTheJinjaTemplateLikeApplyChatTemplatesKeywordArguments()
    {
        var qwen3 = ChatTemplates.LoadFromModel(ModelFolder("qwen3"))!;
        var tokenizer = TestCorpus.Tokenizer;
        List<ChatMessage> question = [new ChatMessage("user", "Why?")];
        string Text(ChatTemplate t) => tokenizer.Decode(t.RenderPrompt(tokenizer, question));
        Assert.EndsWith("<|im_start|>assistant\n", Text(qwen3));
        Assert.EndsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n",
            Text(qwen3.WithVariables(new Dictionary<string, object?> { ["enable_thinking"] = false })));
        Assert.Same(qwen3, qwen3.WithVariables(new Dictionary<string, object?>()));

        Assert.Contains("apply to a model's own Jinja chat template", Assert.Throws<SharpLMException>(() =>
            ChatTemplates.Default.WithVariables(new Dictionary<string, object?> { ["enable_thinking"] = false })).Message);
        Assert.Contains("\"messages\" is set by SharpLM itself", Assert.Throws<SharpLMException>(() =>
            qwen3.WithVariables(new Dictionary<string, object?> { ["messages"] = null }).RenderPrompt(tokenizer, question)).Message);

        var parsed = new System.CommandLine.RootCommand();
        var variables = new SharpLM.Cli.TemplateVariables();
        variables.AddTo(parsed);
        var fromCli = variables.Apply(parsed.Parse(["--template-var", "enable_thinking=false"]), qwen3);
        Assert.Equal(Text(qwen3.WithVariables(new Dictionary<string, object?> { ["enable_thinking"] = false })), Text(fromCli));
    }

    [Fact]
    public void NamedTemplateListsUseTheDefaultOne()
    {
        var config = new JsonObject
        {
            ["chat_template"] = new JsonArray(
                new JsonObject { ["name"] = "tool_use", ["template"] = "TOOLS" },
                new JsonObject { ["name"] = "default", ["template"] = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}" }),
        };
        dir.Write("named/tokenizer_config.json", config.ToJsonString());
        var template = ChatTemplates.LoadFromModel(dir.File("named"))!;
        Assert.Equal(TestCorpus.Tokenizer.Encode("<user>hi", allowSpecial: true),
            template.RenderPrompt(TestCorpus.Tokenizer, [new ChatMessage("user", "hi")]));
    }

    [Fact]
    public void ABrokenTemplateNamesTheFileAndLine()
    {
        var folder = ModelFolder("qwen2_5", "{% for m in messages %}\n{{ m.content }\n");
        var e = Assert.Throws<SharpLMException>(() => ChatTemplates.LoadFromModel(folder));
        Assert.Contains("tokenizer_config.json: chat_template line 2:", e.Message);
        Assert.Contains("SharpLM's templates", e.Message);
    }
}
