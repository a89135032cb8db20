using SharpLM.Data;
using Xunit;

namespace SharpLM.Tests.Data.Instructions;

public class InstructionReaderTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static List<InstructionRecord> Read(string path, InstructionFormat format = InstructionFormat.Auto) =>
        new InstructionReader([path], new InstructionReaderOptions { Format = format }).Read().ToList();

    static SharpLMException Fails(string path, InstructionFormat format = InstructionFormat.Auto) =>
        Assert.Throws<SharpLMException>(() => Read(path, format));

    static string Roles(InstructionRecord record) =>
        string.Join(" ", record.Conversation!.Messages.Select(m => $"{m.Role}:{m.Content}"));

    [Fact]
    public void ReadsAlpacaWithAndWithoutInputAndSystem()
    {
        string path = dir.Write("alpaca.jsonl",
            """
            {"instruction": "Add", "input": "1 2", "output": "3"}
            {"instruction": "Greet", "input": "", "output": "Hi", "system": "Be kind."}
            {"instruction": "Count", "output": "1 2 3", "input": null, "system": ""}

            """);
        var records = Read(path);
        Assert.Equal(["user:Add\n\n1 2 assistant:3", "system:Be kind. user:Greet assistant:Hi", "user:Count assistant:1 2 3"],
            records.Select(Roles));
        Assert.Equal([$"{path}:1", $"{path}:2", $"{path}:3"], records.Select(r => r.Source));
        Assert.All(records, r => Assert.Equal(r.Source, r.Conversation!.Source));
    }

    [Fact]
    public void ReadsPromptCompletionAndQuestionAnswer()
    {
        string path = dir.Write("pc.jsonl",
            """
            {"prompt": "2+2?", "completion": "4", "system": "Math."}
            {"question": "Capital of France?", "answer": "Paris"}
            """);
        Assert.Equal(["system:Math. user:2+2? assistant:4", "user:Capital of France? assistant:Paris"], Read(path).Select(Roles));
    }

    [Fact]
    public void ReadsMultiTurnMessages()
    {
        string path = dir.Write("chat.jsonl",
            """
            {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}, {"role": "assistant", "content": "a2", "weight": 1}]}
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "id": 7}
            """);
        Assert.Equal(["system:S user:u1 assistant:a1 user:u2 assistant:a2", "user:x assistant:y"], Read(path).Select(Roles));
    }

    [Fact]
    public void ReadsPlainTextAndCountsEmptyTexts()
    {
        string path = dir.Write("text.jsonl", "{\"text\": \"domain text\"}\n{\"text\": \"\"}\n");
        var reader = new InstructionReader(path);
        var record = Assert.Single(reader.Read());
        Assert.Equal("domain text", record.Text);
        Assert.Null(record.Conversation);
        Assert.Equal(1, reader.Stats.Empty);
        Assert.Equal(1, reader.Stats.Texts);
        Assert.Equal(InstructionFormat.Text, reader.Stats.Formats[path]);
    }

    [Theory]
    [InlineData("{\"messages\": [], \"text\": \"t\", \"instruction\": \"i\"}", InstructionFormat.Messages)]
    [InlineData("{\"instruction\": \"i\", \"output\": \"o\", \"prompt\": \"p\", \"text\": \"t\"}", InstructionFormat.Alpaca)]
    [InlineData("{\"text\": \"t\", \"prompt\": \"p\", \"completion\": \"c\"}", InstructionFormat.PromptCompletion)]
    [InlineData("{\"answer\": \"a\", \"question\": \"q\"}", InstructionFormat.PromptCompletion)]
    [InlineData("{\"text\": \"t\", \"id\": 1}", InstructionFormat.Text)]
    public void AutoDetectsTheFormatFromTheFieldsInOrder(string line, InstructionFormat expected)
    {
        string path = dir.Write("one.jsonl", line + "\n");
        var reader = new InstructionReader([path], new InstructionReaderOptions { SkipInvalid = true });
        try { reader.Read().ToList(); }
        catch (SharpLMException) { } // "no records" when the detected format rejects the line: only the detection matters here
        Assert.Equal(expected, reader.Stats.Formats[path]);
    }

    [Fact]
    public void ExplicitFormatOverridesDetection()
    {
        string path = dir.Write("both.jsonl", "{\"text\": \"plain\", \"prompt\": \"p\", \"completion\": \"c\"}\n");
        Assert.Equal("plain", Assert.Single(Read(path, InstructionFormat.Text)).Text);
    }

    [Fact]
    public void MalformedJsonNamesFileAndLine()
    {
        string path = dir.Write("bad.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n\n{\"prompt\": \"a\", \n");
        Assert.StartsWith($"{path}:3: malformed JSON: ", Fails(path).Message);
    }

    [Fact]
    public void InvalidUtf8NamesLineAndOffset()
    {
        byte[] bytes = [.. "{\"text\":\"a\"}\n{\"text\":\""u8, 0xFF, .. "\"}\n"u8];
        string path = dir.Write("bad.jsonl", bytes);
        Assert.StartsWith($"{path}:2: invalid UTF-8 at byte offset {Array.IndexOf(bytes, (byte)0xFF)}", Fails(path).Message);
    }

    [Theory]
    [InlineData("{\"instruction\": \"i\"}", "field \"output\" is missing (the object has fields \"instruction\")")]
    [InlineData("{\"instruction\": \"i\", \"output\": 3}", "field \"output\" is a number, expected a string")]
    [InlineData("{\"instruction\": \"i\", \"output\": \"o\", \"input\": [1]}", "field \"input\" is an array, expected a string")]
    [InlineData("{\"instruction\": \"i\", \"output\": \"  \"}", "field \"output\" is empty")]
    [InlineData("{\"instruction\": \"\", \"input\": \"\", \"output\": \"o\"}", "field \"instruction\" is empty (and there is no input)")]
    [InlineData("{\"instruction\": \"i\", \"output\": \"o\", \"system\": false}", "field \"system\" is a boolean, expected a string")]
    public void BadAlpacaRecordsNameTheField(string line, string expected)
    {
        string path = dir.Write("bad.jsonl", line + "\n");
        Assert.Equal($"{path}:1: {expected}", Fails(path, InstructionFormat.Alpaca).Message);
    }

    [Theory]
    [InlineData("{\"prompt\": \"p\"}", "field \"completion\" is missing (the object has fields \"prompt\")")]
    [InlineData("{\"prompt\": \"p\", \"completion\": \"\"}", "field \"completion\" is empty")]
    [InlineData("{\"question\": \"\", \"answer\": \"a\"}", "field \"question\" is empty")]
    [InlineData("{\"prompt\": null, \"completion\": \"c\"}", "field \"prompt\" is null, expected a string")]
    public void BadPromptCompletionRecordsNameTheField(string line, string expected)
    {
        string path = dir.Write("bad.jsonl", line + "\n");
        Assert.Equal($"{path}:1: {expected}", Fails(path, InstructionFormat.PromptCompletion).Message);
    }

    [Theory]
    [InlineData("{\"messages\": \"hi\"}", "field \"messages\" is a string, expected an array of {\"role\", \"content\"} objects")]
    [InlineData("{\"messages\": []}", "field \"messages\" is an empty array")]
    [InlineData("{\"messages\": [\"hi\"]}", "messages[0] is a string, expected an object with \"role\" and \"content\"")]
    [InlineData("{\"messages\": [{\"role\": \"user\"}]}", "messages[0]: field \"content\" is missing (the object has fields \"role\")")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"bot\", \"content\": \"a\"}]}",
        "messages[1]: unknown role \"bot\" (expected \"system\", \"user\", \"assistant\")")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"user\", \"content\": \"q2\"}, {\"role\": \"assistant\", " +
                "\"content\": \"a\"}]}",
        "messages[1]: expected role \"assistant\", got \"user\" " +
        "(after an optional first system message, turns must alternate user, assistant, user, ...)")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}, {\"role\": \"system\", " +
                "\"content\": \"s\"}]}",
        "messages[2]: expected role \"user\", got \"system\" " +
        "(after an optional first system message, turns must alternate user, assistant, user, ...)")]
    [InlineData("{\"messages\": [{\"role\": \"assistant\", \"content\": \"a\"}]}",
        "messages[0]: expected role \"user\", got \"assistant\" " +
        "(after an optional first system message, turns must alternate user, assistant, user, ...)")]
    [InlineData("{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"q\"}]}",
        "the conversation ends with a user message; it must end with an assistant answer")]
    [InlineData("{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}]}", "the conversation has only a system message")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \" \\n\"}]}",
        "messages[1]: the assistant message is empty")]
    public void BadConversationsNameTheMessage(string line, string expected)
    {
        string path = dir.Write("bad.jsonl", line + "\n");
        Assert.Equal($"{path}:1: {expected}", Fails(path, InstructionFormat.Messages).Message);
    }

    [Fact]
    public void ARecordInAnotherLayoutThanTheFileFailsAndSaysWhatWasDetected()
    {
        string path = dir.Write("mixed.jsonl", "{\"prompt\": \"p\", \"completion\": \"c\"}\n{\"text\": \"t\"}\n");
        Assert.Equal($"{path}:2: field \"prompt\" is missing (the object has fields \"text\") (the file holds prompt/completion records, " +
                     $"as detected at {path}:1)",
            Fails(path).Message);
    }

    [Fact]
    public void UnrecognisedFieldsFailDetection()
    {
        string path = dir.Write("odd.jsonl", "{\"input\": \"x\", \"target\": \"y\"}\n");
        Assert.Equal($"{path}:1: cannot tell the format: expected a field \"messages\", \"instruction\", \"prompt\", \"question\" or \"text\" " +
                     "(the object has fields \"input\", \"target\")",
            Fails(path).Message);
    }

    [Fact]
    public void SkipInvalidCountsBadRecordsAndKeepsTheFirstMessages()
    {
        string path = dir.Write("mixed.jsonl",
            """
            not json
            {"odd": 1}
            {"prompt": "p1", "completion": "c1"}
            {"prompt": "p2", "completion": ""}
            {"prompt": "p3"}
            {"prompt": "p4", "completion": "c4"}
            """);
        var reader = new InstructionReader([path], new InstructionReaderOptions { SkipInvalid = true });
        Assert.Equal(["user:p1 assistant:c1", "user:p4 assistant:c4"], reader.Read().Select(Roles));
        Assert.Equal(4, reader.Stats.Skipped);
        Assert.Equal(4, reader.Stats.SkippedExamples.Count);
        Assert.StartsWith($"{path}:1: malformed JSON", reader.Stats.SkippedExamples[0]);
        Assert.StartsWith($"{path}:2: cannot tell the format", reader.Stats.SkippedExamples[1]);
        Assert.StartsWith($"{path}:4: field \"completion\" is empty", reader.Stats.SkippedExamples[2]);
        Assert.StartsWith($"{path}:5: field \"completion\" is missing", reader.Stats.SkippedExamples[3]);
        Assert.Equal(InstructionFormat.PromptCompletion, reader.Stats.Formats[path]);
    }

    [Fact]
    public void NoRecordsAtAllFails()
    {
        string path = dir.Write("bad.jsonl", "{\"prompt\": \"p\", \"completion\": \" \"}\n");
        var reader = new InstructionReader([path], new InstructionReaderOptions { SkipInvalid = true });
        var e = Assert.Throws<SharpLMException>(() => reader.Read().ToList());
        Assert.Contains("has no records: 1 file(s) read, 1 invalid record(s) skipped", e.Message);
    }

    [Fact]
    public void FileProblemsFailEvenWithSkipInvalid()
    {
        Assert.Contains("not found", Assert.Throws<SharpLMException>(() => new InstructionReader(dir.File("missing.jsonl"))).Message);
        string html = dir.Write("notes.html", "x");
        Assert.Contains("unsupported instruction data file type \".html\"",
            Assert.Throws<SharpLMException>(() => new InstructionReader(html)).Message);
        string empty = dir.Write("empty.jsonl", "");
        var reader = new InstructionReader([empty], new InstructionReaderOptions { SkipInvalid = true });
        Assert.StartsWith($"{empty}: file is empty", Assert.Throws<SharpLMException>(() => reader.Read().ToList()).Message);
    }

    [Fact]
    public void FoldersAreReadInPathOrderWithAFormatPerFile()
    {
        dir.Write("data/b.jsonl", "{\"text\": \"second\"}\n");
        dir.Write("data/a/chat.jsonl", "{\"prompt\": \"first\", \"completion\": \"c\"}\n");
        dir.Write("data/notes.html", "ignored");
        var reader = new InstructionReader(dir.File("data"));
        var records = reader.Read().ToList();
        Assert.Equal("first", records[0].Conversation!.Messages[0].Content);
        Assert.Equal("second", records[1].Text);
        Assert.Equal(1, reader.Stats.IgnoredFiles);
        Assert.Equal(2, reader.Stats.Formats.Count);
    }
}
