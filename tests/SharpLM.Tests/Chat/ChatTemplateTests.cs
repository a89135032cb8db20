using SharpLM.Chat;
using Xunit;

namespace SharpLM.Tests.Chat;

public class ChatTemplateTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void TemplatePartsUseSpecialTokensButContentNever()
    {
        var tokenizer = TestTokenizers.ChatMl;
        int start = tokenizer.TokenToId("<|im_start|>")!.Value, end = tokenizer.TokenToId("<|im_end|>")!.Value;
        var conversation = new Conversation([new("user", "say <|im_end|> please"), new("assistant", "<|im_start|>ok")]);
        var rendered = ChatTemplates.ChatMl.Render(tokenizer, conversation);

        Assert.Equal(2, rendered.Ids.Count(id => id == start));
        Assert.Equal(2, rendered.Ids.Count(id => id == end));
        // The last special <|im_end|> is the answer's end and part of it; the "\n" after it is not.
        int last = Array.LastIndexOf(rendered.Ids, end);
        Assert.True(rendered.InAnswer[last]);
        Assert.Equal(rendered.Ids.Length - 2, last);
        Assert.False(rendered.InAnswer[^1]);
        Assert.Equal("<|im_start|>ok<|im_end|>", tokenizer.Decode(rendered.Ids.Where((_, i) => rendered.InAnswer[i]).ToArray()));
    }

    [Fact]
    public void DefaultTemplatesAnswersEndWithTheEndTokenId()
    {
        var tokenizer = TestTokenizers.ChatMl;
        var rendered = ChatTemplates.Default.Render(tokenizer, new Conversation([new("user", "q"), new("assistant", "a")]));
        Assert.Equal(tokenizer.Special.Eos, rendered.Ids[^1]);
        Assert.True(rendered.InAnswer[^1]);
    }

    [Theory]
    [InlineData("bytes", "default")]
    [InlineData("bytes", "chatml")]
    [InlineData("bpe", "default")]
    [InlineData("bpe", "chatml")]
    public void PromptIsExactlyThePrefixTrainingSaw(string tokenizerName, string templateName)
    {
        var tokenizer = TestTokenizers.Get(tokenizerName);
        var template = ChatTemplates.Get(templateName);
        var messages = new ChatMessage[]
        {
            new("system", "You answer in one word."), new("user", "Hello there, model"), new("assistant", " the answer\n"),
            new("user", "And\n\nagain?"), new("assistant", "again"),
        };
        var rendered = template.Render(tokenizer, new Conversation(messages));
        foreach (int turn in new[] { 2, 4 })
        {
            int[] prompt = template.RenderPrompt(tokenizer, messages[..turn]);
            Assert.Equal(prompt, rendered.Ids[..prompt.Length]);
            Assert.True(rendered.InAnswer[prompt.Length], "the answer starts right after the prompt");
            Assert.False(rendered.InAnswer[prompt.Length - 1]);
            int[] content = tokenizer.Encode(messages[turn].Content);
            Assert.Equal(content, rendered.Ids[prompt.Length..(prompt.Length + content.Length)]);
        }
    }

    [Fact]
    public void PromptMustEndWithAUserTurn()
    {
        var tokenizer = new TestByteTokenizer();
        Assert.Equal("a prompt must end with a user message, not assistant",
            Assert.Throws<SharpLMException>(() => ChatTemplates.Default.RenderPrompt(tokenizer, [new("user", "q"), new("assistant", "a")])).Message);
        Assert.Equal("the conversation has no messages",
            Assert.Throws<SharpLMException>(() => ChatTemplates.Default.RenderPrompt(tokenizer, [])).Message);
        Assert.StartsWith("messages[1]: expected role \"assistant\", got \"user\"",
            Assert.Throws<SharpLMException>(() => ChatTemplates.Default.RenderPrompt(tokenizer, [new("user", "q"), new("user", "a")])).Message);
    }

    [Fact]
    public void BeginTokenOnlyWhenTheTokenizerHasOne()
    {
        var tokenizer = TestTokenizers.PadOnly;
        var conversation = new Conversation([new("user", "q"), new("assistant", "a")], "x.jsonl:3");
        var rendered = ChatTemplates.ChatMl.Render(tokenizer, conversation);
        Assert.Equal("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n«a<|im_end|>»\n", Marked.Show(tokenizer, rendered));

        var e = Assert.Throws<SharpLMException>(() => ChatTemplates.Default.Render(tokenizer, conversation));
        Assert.StartsWith("chat template \"default\" ends answers with the tokenizer's end token, but the tokenizer has none", e.Message);
    }

    [Fact]
    public void ConversationsAreCheckedWhenBuilt()
    {
        var e = Assert.Throws<SharpLMException>(() => new Conversation([new("user", "q")], "chat.jsonl:4"));
        Assert.Equal("chat.jsonl:4: the conversation ends with a user message; it must end with an assistant answer", e.Message);
    }

    [Fact]
    public void SavedTemplateLoadsBackWithTheModelAndSetsTheHuggingFaceTemplate()
    {
        string model = Directory.CreateDirectory(dir.File("model")).FullName;
        TestTokenizers.ChatMl.Save(Path.Combine(model, "tokenizer.json"));
        File.WriteAllText(Path.Combine(model, "tokenizer_config.json"), """{"model_max_length": 2048, "eos_token": "<|im_end|>"}""");
        Assert.Null(ChatTemplates.LoadFromModel(model));

        ChatTemplates.ChatMl.Save(model);

        var loaded = ChatTemplates.LoadFromModel(model)!;
        AssertSameTemplate(ChatTemplates.ChatMl, loaded);
        AssertSameTemplate(ChatTemplates.ChatMl, ChatTemplates.Get(model));
        AssertSameTemplate(ChatTemplates.ChatMl, ChatTemplates.Get(Path.Combine(model, PartsChatTemplate.FileName)));
        Assert.Contains("\"<|im_start|>user\\n{content}<|im_end|>\\n\"", File.ReadAllText(Path.Combine(model, PartsChatTemplate.FileName)));

        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(model, "tokenizer_config.json")))!;
        Assert.Equal(2048, (int)config["model_max_length"]!);
        Assert.Equal("<|im_end|>", (string)config["eos_token"]!); // kept, not overwritten
        Assert.Equal("[BOT]", (string)config["bos_token"]!);
        Assert.Equal("[PAD]", (string)config["pad_token"]!);
        Assert.Equal(ChatTemplates.ChatMl.JinjaTemplate, (string)config["chat_template"]!);
        Assert.Empty(Directory.GetFiles(model, "*.tmp"));
    }

    static void AssertSameTemplate(PartsChatTemplate expected, ChatTemplate template)
    {
        var actual = Assert.IsType<PartsChatTemplate>(template);
        Assert.Equal(
            (expected.Name, expected.SystemPart, expected.UserPart, expected.AssistantStart, expected.AssistantEnd, expected.EndWithEos,
                expected.AfterAssistant, expected.AddBos),
            (actual.Name, actual.SystemPart, actual.UserPart, actual.AssistantStart, actual.AssistantEnd, actual.EndWithEos,
                actual.AfterAssistant, actual.AddBos));
        Assert.Equal(expected.StopStrings, actual.StopStrings);
    }

    [Fact]
    public void JinjaTemplateQuotesEveryPart()
    {
        Assert.Equal(
            "{% if bos_token %}{{ bos_token }}{% endif %}{% for message in messages %}"
            + "{% if message['role'] == 'system' %}{{ message['content'] }}{{ '\\n\\n' }}"
            + "{% elif message['role'] == 'user' %}{{ '### Instruction:\\n' }}{{ message['content'] }}{{ '\\n\\n' }}"
            + "{% elif message['role'] == 'assistant' %}{{ '### Response:\\n' }}{{ message['content'] }}{{ eos_token }}"
            + "{% else %}{{ raise_exception('unknown role: ' + message['role']) }}{% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}",
            ChatTemplates.Default.JinjaTemplate);
        var tricky = new PartsChatTemplate("t", "{content}", "it's {% raw %}\\{content}", "A:", "", endWithEos: true, addBos: false);
        Assert.StartsWith("{% for message in messages %}", tricky.JinjaTemplate);
        Assert.Contains("{{ 'it\\'s {% raw %}\\\\' }}{{ message['content'] }}", tricky.JinjaTemplate);
    }

    [Fact]
    public void UserTemplateFileIsReadWithDefaults()
    {
        string path = dir.Write("mine.json", """
            {"system": "<<SYS>>{content}<</SYS>>", "user": "[INST]{content}[/INST]", "assistant_start": " ", "assistant_end": "</s>", "stop_strings": ["</s>"]}
            """);
        var template = Assert.IsType<PartsChatTemplate>(ChatTemplates.Get(path));
        Assert.Equal("mine", template.Name);
        Assert.True(template.AddBos);
        Assert.False(template.EndWithEos);
        Assert.Equal("", template.AfterAssistant);
        Assert.Equal(["</s>"], template.StopStrings);
        var tokenizer = new TestByteTokenizer();
        var rendered = template.Render(tokenizer, new Conversation([new("user", "q"), new("assistant", "a")]));
        Assert.Equal("[BOT][INST]q[/INST] «a</s>»", Marked.Show(tokenizer, rendered));
    }

    [Theory]
    [InlineData("{\"system\": \"{content}\", \"user\": \"{content}\", \"assistant_start\": \"A\", \"end_with_eos\": true, \"colour\": 1}",
        "unknown field \"colour\" (expected \"name\", \"add_bos\", \"system\", \"user\", \"assistant_start\", \"assistant_end\", " +
        "\"end_with_eos\", \"after_assistant\", \"stop_strings\")")]
    [InlineData("{\"system\": \"{content}\", \"user\": \"{content}\", \"end_with_eos\": true}", "field \"assistant_start\" is missing")]
    [InlineData("{\"system\": \"{content}\", \"user\": \"U\", \"assistant_start\": \"A\", \"end_with_eos\": true}",
        "chat template \"bad\": \"user\" must contain {content} exactly once")]
    [InlineData("{\"system\": \"{content}{content}\", \"user\": \"{content}\", \"assistant_start\": \"A\", \"end_with_eos\": true}",
        "chat template \"bad\": \"system\" must contain {content} exactly once")]
    [InlineData("{\"system\": \"{content}\", \"user\": \"{content}\", \"assistant_start\": \"A{content}\", \"end_with_eos\": true}",
        "chat template \"bad\": \"assistant_start\" must not contain {content}")]
    [InlineData("{\"system\": \"{content}\", \"user\": \"{content}\", \"assistant_start\": \"A\"}",
        "chat template \"bad\": answers have no end; set \"assistant_end\" or \"end_with_eos\": true (otherwise the model never learns to stop)")]
    [InlineData("{\"system\": \"{content}\", \"user\": \"{content}\", \"assistant_start\": \"A\", \"end_with_eos\": \"yes\"}",
        "field \"end_with_eos\" is the string \"yes\", expected true or false")]
    [InlineData("{\"system\": \"{content}\", \"user\": \"{content}\", \"assistant_start\": \"A\", \"end_with_eos\": true, \"stop_strings\": \"x\"}",
        "field \"stop_strings\" is the string \"x\", expected an array of strings")]
    [InlineData("{\"system\": ", "malformed JSON: ")]
    public void BadTemplateFilesSayWhatIsWrong(string json, string expected)
    {
        string path = dir.Write("bad.json", json);
        Assert.StartsWith($"{path}: {expected}", Assert.Throws<SharpLMException>(() => ChatTemplates.Get(path)).Message);
    }

    [Fact]
    public void UnknownTemplateNameListsTheChoices()
    {
        Assert.Equal("unknown chat template \"llama9\": expected default or chatml, a template .json file, " +
                     "or a model folder with sharplm_template.json",
            Assert.Throws<SharpLMException>(() => ChatTemplates.Get("llama9")).Message);
        Assert.Same(ChatTemplates.ChatMl, ChatTemplates.Get("ChatML"));
        Assert.Contains("has no chat template (neither sharplm_template.json nor a chat_template in tokenizer_config.json)",
            Assert.Throws<SharpLMException>(() => ChatTemplates.Get(dir.Path)).Message);
    }
}
