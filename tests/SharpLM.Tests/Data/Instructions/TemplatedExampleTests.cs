using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Tests.Chat;
using Xunit;

namespace SharpLM.Tests.Data.Instructions;

/// <summary>Instruction records become training examples: the template's answers are trained, or every token with
/// trainOnPrompt, and never the first; plain text is trained whole.</summary>
public class TemplatedExampleTests : IDisposable
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
        var example = TemplatedExample.FromRecord(record, ChatTemplates.Get(templateName), tokenizer);
        Assert.Equal(expected, Marked.Show(tokenizer, example));
        Assert.Equal(record.Source, example.Source);
    }

    [Theory]
    [MemberData(nameof(Expected))]
    public void TrainOnPromptTrainsEverythingButTheBeginToken(string tokenizerName, string templateName, string line, string expected)
    {
        var tokenizer = TestTokenizers.Get(tokenizerName);
        var example = TemplatedExample.FromRecord(ReadOne(line), ChatTemplates.Get(templateName), tokenizer, trainOnPrompt: true);
        Assert.Equal(tokenizer.Special.Bos, example.Ids[0]);
        Assert.False(example.Trained[0]);
        Assert.All(example.Trained.Skip(1), Assert.True);
        Assert.Equal("[BOT]«" + expected.Replace("«", "").Replace("»", "")[5..] + "»", Marked.Show(tokenizer, example));
    }

    [Fact]
    public void PlainTextNeedsAnEndToken()
    {
        var tokenizer = TestTokenizers.PadOnly;
        Assert.Equal("the tokenizer has no end token, which plain-text examples end with",
            Assert.Throws<SharpLMException>(() => TemplatedExample.FromText("t", tokenizer)).Message);
        Assert.Equal("[BOT]«t[EOT]»", Marked.Show(TestTokenizers.ChatMl, TemplatedExample.FromText("t", TestTokenizers.ChatMl)));
    }
}
