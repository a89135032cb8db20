using System.Globalization;
using System.Text.Json;
using SharpLM.Chat.Jinja;
using Xunit;

namespace SharpLM.Tests.Chat.Jinja;

/// <summary>SharpLM's Jinja renders the chat templates of nine released model families (and one written for the tests)
/// exactly as @huggingface/jinja does (tests/fixtures/chat-templates: 140 renders of 7 conversations, with and without
/// the generation prompt).</summary>
public class JinjaReferenceTests
{
    static readonly JsonElement Templates = Load("templates.json");
    static readonly JsonElement Expected = Load("expected.json");

    static JsonElement Load(string name) => JsonDocument.Parse(File.ReadAllText(Fixtures.Path("chat-templates", name))).RootElement;

    public static TheoryData<string, string, bool> Cases()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var c in Expected.GetProperty("cases").EnumerateArray())
            data.Add(c.GetProperty("template").GetString()!, c.GetProperty("conversation").GetString()!,
                c.GetProperty("add_generation_prompt").GetBoolean());
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RendersAsTheReferenceEngine(string templateName, string conversation, bool addGenerationPrompt)
    {
        var expected = Expected.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("template").GetString() == templateName &&
            c.GetProperty("conversation").GetString() == conversation && c.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt);
        var t = Templates.GetProperty(templateName);
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = Expected.GetProperty("conversations").GetProperty(conversation).EnumerateArray()
                .Select(m => (object?)new Dictionary<string, object?>
                {
                    ["role"] = m.GetProperty("role").GetString(), ["content"] = m.GetProperty("content").GetString(),
                }).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = t.GetProperty("bos_token").GetString() ?? "",
            ["eos_token"] = t.GetProperty("eos_token").GetString() ?? "",
        };
        var renderedOn = DateTime.ParseExact(Expected.GetProperty("renderedOn").GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        var template = JinjaTemplate.Parse(t.GetProperty("chat_template").GetString()!);

        // See the fixture's NOTICE: the reference skips Mistral-Nemo's alternation check, Python's Jinja runs it.
        bool referenceDiffers = templateName == "mistral_nemo" && conversation == "not_alternating";
        if (referenceDiffers || expected.TryGetProperty("error", out _))
        {
            var message = referenceDiffers ? "roles must alternate" : expected.GetProperty("error").GetString()!;
            var e = Assert.ThrowsAny<JinjaException>(() => template.Render(variables, renderedOn));
            Assert.Contains(message, e.Message);
        }
        else
        {
            Assert.Equal(expected.GetProperty("output").GetString(), template.Render(variables, renderedOn));
        }
    }
}
