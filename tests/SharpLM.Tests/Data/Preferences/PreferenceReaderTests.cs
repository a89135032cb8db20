using Parquet.Schema;
using Parquet.Serialization;
using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Tests.Chat;
using Xunit;

namespace SharpLM.Tests.Data.Preferences;

/// <summary>TRL's preference layouts (strings, conversations, implicit prompt) in JSONL, CSV and Parquet become the same
/// pairs; bad records are named by file, line and field, or skipped; rendered pairs train on the completions only.</summary>
public sealed class PreferenceReaderTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static string Show(IReadOnlyList<ChatMessage> messages) => string.Join(" | ", messages.Select(m => $"{m.Role}:{m.Content}"));

    static string Show(PreferenceRecord r) => $"{Show(r.Prompt)} => {Show(r.Chosen)} / {Show(r.Rejected)}";

    List<PreferenceRecord> Read(string name, string text) => [.. new PreferenceReader([dir.Write(name, text)]).Read()];

    [Fact]
    public void StringsConversationsAndTheImplicitPromptGiveTheSamePairs()
    {
        const string expected = "user:2+2? => assistant:4 / assistant:5";
        Assert.Equal(expected, Show(Assert.Single(Read("standard.jsonl", """{"prompt": "2+2?", "chosen": "4", "rejected": "5"}"""))));
        Assert.Equal(expected, Show(Assert.Single(Read("conversational.jsonl", """
            {"prompt": [{"role": "user", "content": "2+2?"}], "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}
            """))));
        Assert.Equal(expected, Show(Assert.Single(Read("implicit.jsonl", """
            {"chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]}
            """))));
        Assert.Equal(expected, Show(Assert.Single(Read("standard.csv", "prompt,chosen,rejected\n2+2?,4,5\n"))));
    }

    [Fact]
    public void AnImplicitPromptEndsWithTheLastSharedUserTurn()
    {
        // The answers share a first assistant turn and differ only later: the prompt is everything up to the last shared
        // user turn, with the system message.
        var pair = Assert.Single(Read("multi.jsonl", """
            {"chosen": [{"role": "system", "content": "S"}, {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}, {"role": "assistant", "content": "good"}], "rejected": [{"role": "system", "content": "S"}, {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}, {"role": "assistant", "content": "bad"}]}
            """));
        Assert.Equal("system:S | user:u1 | assistant:a1 | user:u2 => assistant:good / assistant:bad", Show(pair));
    }

    [Fact]
    public async Task ParquetListsOfStructsAreConversations()
    {
        static StructField Message() => new("element", new DataField<string>("role"), new DataField<string>("content"));
        var schema = new ParquetSchema(new ListField("chosen", Message()), new ListField("rejected", Message()));
        static List<Dictionary<string, object?>> Chat(string answer) =>
            [new() { ["role"] = "user", ["content"] = "q" }, new() { ["role"] = "assistant", ["content"] = answer }];
        string path = dir.File("pairs.parquet");
        await using (var stream = File.Create(path))
            await ParquetSerializer.SerializeUntypedAsync(
                [new Dictionary<string, object?> { ["chosen"] = Chat("yes"), ["rejected"] = Chat("no") }], schema, stream);
        var pair = Assert.Single(new PreferenceReader([path]).Read());
        Assert.Equal("user:q => assistant:yes / assistant:no", Show(pair));
        Assert.Equal($"{path}:row 0", pair.Source);
    }

    [Fact]
    public void BadRecordsAreNamedByFileLineAndFieldOrSkipped()
    {
        string path = dir.Write("bad.jsonl", string.Join("\n",
            """{"prompt": "q", "chosen": "a", "rejected": "b"}""",
            """{"prompt": "q", "chosen": "a"}""",
            """{"prompt": "q", "chosen": 3, "rejected": "b"}""",
            """{"chosen": "a", "rejected": "b"}""",
            """{"chosen": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a"}], "rejected": """ +
            """[{"role": "user", "content": "q2"}, {"role": "assistant", "content": "b"}]}""",
            """{"prompt": "q", "chosen": [{"role": "user", "content": "again"}], "rejected": "b"}""",
            """{"prompt": "q", "chosen": " ", "rejected": "b"}""",
            "not json"));
        Assert.Equal($"{path}:2: field \"rejected\" is missing (the object has fields \"prompt\", \"chosen\")",
            Assert.Throws<SharpLMException>(() => new PreferenceReader([path]).Read().ToList()).Message);

        var reader = new PreferenceReader([path], skipInvalid: true);
        Assert.Equal(["user:q => assistant:a / assistant:b"], reader.Read().Select(Show));
        Assert.Equal(7, reader.Skipped.Count);
        Assert.Equal($"{path}:3: field \"chosen\" is a number, expected a string or an array of {{\"role\", \"content\"}} objects",
            reader.Skipped.Messages[1]);
        Assert.Equal($"{path}:4: field \"prompt\" is missing (the object has fields \"chosen\", \"rejected\"): with \"chosen\" and " +
                     "\"rejected\" as strings the prompt must be given (only conversations can share their first turns)", reader.Skipped.Messages[2]);
        Assert.StartsWith($"{path}:5: there is no \"prompt\" field and \"chosen\" and \"rejected\" share no first turns", reader.Skipped.Messages[3]);
        Assert.Equal($"{path}:6: chosen[0] is a user message; a completion starts with the assistant's answer", reader.Skipped.Messages[4]);
        Assert.Equal($"{path}:7: field \"chosen\" is empty", reader.Skipped.Messages[5]);
        Assert.StartsWith($"{path}:8: ", reader.Skipped.Messages[6]);
    }

    [Fact]
    public void NoPairAtAllFails()
    {
        string path = dir.Write("none.jsonl", """{"prompt": "q"}""" + "\n");
        Assert.Equal($"The preference data ({path}) has no pairs: 1 file(s) read, 1 invalid record(s) skipped.",
            Assert.Throws<SharpLMException>(() => new PreferenceReader([path], skipInvalid: true).Read().ToList()).Message);
    }

    [Theory]
    [InlineData("default", "[BOT]### Instruction:\nq\n\n### Response:\n«yes[EOT]»", "[BOT]### Instruction:\nq\n\n### Response:\n«no[EOT]»")]
    [InlineData("chatml", "[BOT]<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n«yes<|im_end|>»\n",
        "[BOT]<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n«no<|im_end|>»\n")]
    public void PairsTrainOnTheCompletionOnly(string templateName, string chosen, string rejected)
    {
        var tokenizer = TestTokenizers.ChatMl;
        var record = Assert.Single(Read("pair.jsonl", """{"prompt": "q", "chosen": "yes", "rejected": "no"}"""));
        var pair = PreferencePair.FromRecord(record, ChatTemplates.Get(templateName), tokenizer);
        Assert.Equal(chosen, Marked.Show(tokenizer, pair.Chosen));
        Assert.Equal(rejected, Marked.Show(tokenizer, pair.Rejected));
        Assert.Equal(record.Source, pair.Source);
    }

    [Fact]
    public void AnEarlierAnswerInAMultiTurnPromptIsNotTrained()
    {
        var tokenizer = TestTokenizers.ChatMl;
        var record = new PreferenceRecord(
            [new(ChatMessage.UserRole, "u1"), new(ChatMessage.AssistantRole, "a1"), new(ChatMessage.UserRole, "u2")],
            [new(ChatMessage.AssistantRole, "yes")], [new(ChatMessage.AssistantRole, "no")]);
        var pair = PreferencePair.FromRecord(record, ChatTemplates.Get("chatml"), tokenizer);
        Assert.Equal("[BOT]<|im_start|>user\nu1<|im_end|>\n<|im_start|>assistant\na1<|im_end|>\n<|im_start|>user\nu2<|im_end|>\n" +
                     "<|im_start|>assistant\n«yes<|im_end|>»\n", Marked.Show(tokenizer, pair.Chosen));
    }
}
