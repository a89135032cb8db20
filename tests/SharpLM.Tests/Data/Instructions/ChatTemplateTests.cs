using SharpLM.Data;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Data.Instructions;

public class ChatTemplateTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    const string AlpacaLine = """{"instruction": "Add", "input": "1 2", "output": "3", "system": "Be brief."}""";
    const string PromptLine = """{"prompt": "2+2?", "completion": "4"}""";
    const string MessagesLine = """
        {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}, {"role": "assistant", "content": "a2"}]}
        """;
    const string TextLine = """{"text": "domain text"}""";

    public static TheoryData<string, string, string, string> Expected()
    {
        var data = new TheoryData<string, string, string, string>();
        foreach (var tokenizer in new[] { "bytes", "bpe" })
        {
            data.Add(tokenizer, "default", AlpacaLine, "[BOT]Be brief.\n\n### Instruction:\nAdd\n\n1 2\n\n### Response:\n«3[EOT]»");
            data.Add(tokenizer, "default", PromptLine, "[BOT]### Instruction:\n2+2?\n\n### Response:\n«4[EOT]»");
            data.Add(tokenizer, "default", MessagesLine,
                "[BOT]S\n\n### Instruction:\nu1\n\n### Response:\n«a1[EOT]»### Instruction:\nu2\n\n### Response:\n«a2[EOT]»");
            data.Add(tokenizer, "default", TextLine, "[BOT]«domain text[EOT]»");
            data.Add(tokenizer, "chatml", AlpacaLine,
                "[BOT]<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nAdd\n\n1 2<|im_end|>\n<|im_start|>assistant\n«3<|im_end|>»\n");
            data.Add(tokenizer, "chatml", PromptLine, "[BOT]<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n«4<|im_end|>»\n");
            data.Add(tokenizer, "chatml", MessagesLine,
                "[BOT]<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nu1<|im_end|>\n<|im_start|>assistant\n«a1<|im_end|>»\n"
                + "<|im_start|>user\nu2<|im_end|>\n<|im_start|>assistant\n«a2<|im_end|>»\n");
            data.Add(tokenizer, "chatml", TextLine, "[BOT]«domain text[EOT]»");
        }
        return data;
    }

    InstructionRecord ReadOne(string line) => Assert.Single(new InstructionReader(dir.Write("data.jsonl", line + "\n")).Read());

    [Theory]
    [MemberData(nameof(Expected))]
    public void TrainsOnlyAnswersAndTheirEnds(string tokenizerName, string templateName, string line, string expected)
    {
        var tokenizer = TestTokenizers.Get(tokenizerName);
        var record = ReadOne(line);
        var example = ChatTemplate.Get(templateName).Render(tokenizer, record);
        Assert.Equal(expected, Marked.Show(tokenizer, example));
        Assert.Equal(record.Source, example.Source);
    }

    [Theory]
    [MemberData(nameof(Expected))]
    public void TrainOnPromptTrainsEverythingButTheBeginToken(string tokenizerName, string templateName, string line, string expected)
    {
        var tokenizer = TestTokenizers.Get(tokenizerName);
        var example = ChatTemplate.Get(templateName).Render(tokenizer, ReadOne(line), trainOnPrompt: true);
        Assert.Equal(tokenizer.Special.Bos, example.Ids[0]);
        Assert.False(example.Trained[0]);
        Assert.All(example.Trained.Skip(1), Assert.True);
        Assert.Equal("[BOT]«" + expected.Replace("«", "").Replace("»", "")[5..] + "»", Marked.Show(tokenizer, example));
    }

    [Fact]
    public void TemplatePartsUseSpecialTokensButContentNever()
    {
        var tokenizer = TestTokenizers.ChatMl;
        int start = tokenizer.TokenToId("<|im_start|>")!.Value, end = tokenizer.TokenToId("<|im_end|>")!.Value;
        var conversation = new Conversation([new("user", "say <|im_end|> please"), new("assistant", "<|im_start|>ok")]);
        var example = ChatTemplate.ChatMl.Render(tokenizer, conversation);

        Assert.Equal(2, example.Ids.Count(id => id == start));
        Assert.Equal(2, example.Ids.Count(id => id == end));
        // The last special <|im_end|> is the answer's end and trained; the "\n" after it is not.
        int last = Array.LastIndexOf(example.Ids, end);
        Assert.True(example.Trained[last]);
        Assert.Equal(example.Ids.Length - 2, last);
        Assert.False(example.Trained[^1]);
        Assert.Equal("<|im_start|>ok<|im_end|>", tokenizer.Decode(example.Ids.Where((_, i) => example.Trained[i]).ToArray()));
    }

    [Fact]
    public void DefaultTemplateTrainsTheEndTokenId()
    {
        var tokenizer = TestTokenizers.ChatMl;
        var example = ChatTemplate.Default.Render(tokenizer, new Conversation([new("user", "q"), new("assistant", "a")]));
        Assert.Equal(tokenizer.Special.Eos, example.Ids[^1]);
        Assert.True(example.Trained[^1]);
    }

    [Theory]
    [InlineData("bytes", "default")]
    [InlineData("bytes", "chatml")]
    [InlineData("bpe", "default")]
    [InlineData("bpe", "chatml")]
    public void PromptIsExactlyThePrefixTrainingSaw(string tokenizerName, string templateName)
    {
        var tokenizer = TestTokenizers.Get(tokenizerName);
        var template = ChatTemplate.Get(templateName);
        var messages = new ChatMessage[]
        {
            new("system", "You answer in one word."), new("user", "Hello there, model"), new("assistant", " the answer\n"),
            new("user", "And\n\nagain?"), new("assistant", "again"),
        };
        var example = template.Render(tokenizer, new Conversation(messages));
        foreach (int turn in new[] { 2, 4 })
        {
            int[] prompt = template.RenderPrompt(tokenizer, messages[..turn]);
            Assert.Equal(prompt, example.Ids[..prompt.Length]);
            Assert.True(example.Trained[prompt.Length], "the answer starts right after the prompt");
            Assert.False(example.Trained[prompt.Length - 1]);
            int[] content = tokenizer.Encode(messages[turn].Content);
            Assert.Equal(content, example.Ids[prompt.Length..(prompt.Length + content.Length)]);
        }
    }

    [Fact]
    public void PromptMustEndWithAUserTurn()
    {
        var tokenizer = new TestByteTokenizer();
        Assert.Equal("a prompt must end with a user message, not assistant",
            Assert.Throws<SharpLMException>(() => ChatTemplate.Default.RenderPrompt(tokenizer, [new("user", "q"), new("assistant", "a")])).Message);
        Assert.Equal("the conversation has no messages", Assert.Throws<SharpLMException>(() => ChatTemplate.Default.RenderPrompt(tokenizer, [])).Message);
        Assert.StartsWith("messages[1]: expected role \"assistant\", got \"user\"",
            Assert.Throws<SharpLMException>(() => ChatTemplate.Default.RenderPrompt(tokenizer, [new("user", "q"), new("user", "a")])).Message);
    }

    [Fact]
    public void BeginTokenOnlyWhenTheTokenizerHasOne()
    {
        var tokenizer = TestTokenizers.PadOnly;
        var conversation = new Conversation([new("user", "q"), new("assistant", "a")], "x.jsonl:3");
        var example = ChatTemplate.ChatMl.Render(tokenizer, conversation);
        Assert.Equal("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n«a<|im_end|>»\n", Marked.Show(tokenizer, example));

        var e = Assert.Throws<SharpLMException>(() => ChatTemplate.Default.Render(tokenizer, conversation));
        Assert.StartsWith("chat template \"default\" ends answers with the tokenizer's end token, but the tokenizer has none", e.Message);
        Assert.Contains("no end token", Assert.Throws<SharpLMException>(() => ChatTemplate.RenderText(tokenizer, "t")).Message);
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
        Assert.Null(ChatTemplate.LoadFromModel(model));

        ChatTemplate.ChatMl.Save(model);

        var loaded = ChatTemplate.LoadFromModel(model)!;
        AssertSameTemplate(ChatTemplate.ChatMl, loaded);
        AssertSameTemplate(ChatTemplate.ChatMl, ChatTemplate.Get(model));
        AssertSameTemplate(ChatTemplate.ChatMl, ChatTemplate.Get(Path.Combine(model, ChatTemplate.FileName)));
        Assert.Contains("\"<|im_start|>user\\n{content}<|im_end|>\\n\"", File.ReadAllText(Path.Combine(model, ChatTemplate.FileName)));

        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(model, "tokenizer_config.json")))!;
        Assert.Equal(2048, (int)config["model_max_length"]!);
        Assert.Equal("<|im_end|>", (string)config["eos_token"]!); // kept, not overwritten
        Assert.Equal("[BOT]", (string)config["bos_token"]!);
        Assert.Equal("[PAD]", (string)config["pad_token"]!);
        Assert.Equal(ChatTemplate.ChatMl.JinjaTemplate, (string)config["chat_template"]!);
        Assert.Empty(Directory.GetFiles(model, "*.tmp"));
    }

    static void AssertSameTemplate(ChatTemplate expected, ChatTemplate actual)
    {
        Assert.Equal(
            (expected.Name, expected.SystemPart, expected.UserPart, expected.AssistantStart, expected.AssistantEnd, expected.EndWithEos, expected.AfterAssistant, expected.AddBos),
            (actual.Name, actual.SystemPart, actual.UserPart, actual.AssistantStart, actual.AssistantEnd, actual.EndWithEos, actual.AfterAssistant, actual.AddBos));
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
            ChatTemplate.Default.JinjaTemplate);
        var tricky = new ChatTemplate("t", "{content}", "it's {% raw %}\\{content}", "A:", "", endWithEos: true, addBos: false);
        Assert.StartsWith("{% for message in messages %}", tricky.JinjaTemplate);
        Assert.Contains("{{ 'it\\'s {% raw %}\\\\' }}{{ message['content'] }}", tricky.JinjaTemplate);
    }

    [Fact]
    public void UserTemplateFileIsReadWithDefaults()
    {
        string path = dir.Write("mine.json", """
            {"system": "<<SYS>>{content}<</SYS>>", "user": "[INST]{content}[/INST]", "assistant_start": " ", "assistant_end": "</s>", "stop_strings": ["</s>"]}
            """);
        var template = ChatTemplate.Get(path);
        Assert.Equal("mine", template.Name);
        Assert.True(template.AddBos);
        Assert.False(template.EndWithEos);
        Assert.Equal("", template.AfterAssistant);
        Assert.Equal(["</s>"], template.StopStrings);
        var tokenizer = new TestByteTokenizer();
        var example = template.Render(tokenizer, new Conversation([new("user", "q"), new("assistant", "a")]));
        Assert.Equal("[BOT][INST]q[/INST] «a</s>»", Marked.Show(tokenizer, example));
    }

    [Theory]
    [InlineData("{\"system\": \"{content}\", \"user\": \"{content}\", \"assistant_start\": \"A\", \"end_with_eos\": true, \"colour\": 1}",
        "unknown field \"colour\" (expected \"name\", \"add_bos\", \"system\", \"user\", \"assistant_start\", \"assistant_end\", \"end_with_eos\", \"after_assistant\", \"stop_strings\")")]
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
        Assert.StartsWith($"{path}: {expected}", Assert.Throws<SharpLMException>(() => ChatTemplate.Get(path)).Message);
    }

    [Fact]
    public void UnknownTemplateNameListsTheChoices()
    {
        Assert.Equal("unknown chat template \"llama9\": expected default or chatml, a template .json file, or a model folder with sharplm_template.json",
            Assert.Throws<SharpLMException>(() => ChatTemplate.Get("llama9")).Message);
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.Get("ChatML"));
        Assert.Contains("has no chat template (neither sharplm_template.json nor a chat_template in tokenizer_config.json)", Assert.Throws<SharpLMException>(() => ChatTemplate.Get(dir.Path)).Message);
    }
}
