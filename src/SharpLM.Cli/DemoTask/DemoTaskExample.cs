using System.Text.Json;

namespace SharpLM.Cli.DemoTask;

/// <summary>One question and answer about a word, written as a chat-messages JSON line:
/// <c>{"messages":[{"role":"user","content":"How is \"cat\" (c a t) pronounced?"},{"role":"assistant","content":"K AE1 T"}],
/// "task":"pronunciation","word":"cat"}</c>
/// (meaning examples also carry <c>"pos"</c>).</summary>
sealed record DemoTaskExample(DemoTaskKind Kind, string Word, string Question, string Answer, PartOfSpeech? PartOfSpeech = null)
{
    public static string TaskName(DemoTaskKind kind) => kind == DemoTaskKind.Pronunciation ? "pronunciation" : "meaning";

    public static string PartOfSpeechName(PartOfSpeech pos) => pos.ToString().ToLowerInvariant();

    public void WriteJson(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteStartArray("messages");
        WriteMessage(json, "user", Question);
        WriteMessage(json, "assistant", Answer);
        json.WriteEndArray();
        json.WriteString("task", TaskName(Kind));
        json.WriteString("word", Word);
        if (PartOfSpeech is { } pos) json.WriteString("pos", PartOfSpeechName(pos));
        json.WriteEndObject();
    }

    static void WriteMessage(Utf8JsonWriter json, string role, string content)
    {
        json.WriteStartObject();
        json.WriteString("role", role);
        json.WriteString("content", content);
        json.WriteEndObject();
    }
}
