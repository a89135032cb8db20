using System.Text.Json;
using SharpLM.Chat;
using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>
/// Reads one preference record in Hugging Face TRL's layouts: <c>prompt</c>, <c>chosen</c> and <c>rejected</c> as strings
/// (a user turn and two assistant answers), as lists of <c>{"role", "content"}</c> messages (conversational), or with no
/// prompt, <c>chosen</c> and <c>rejected</c> as whole conversations whose shared first turns are the prompt (TRL's
/// implicit prompt). Every input is a JSON object: JSONL lines as they are, CSV and Parquet rows converted.
/// </summary>
internal static class PreferenceRecordParser
{
    /// <summary>Null when the record is valid (then <paramref name="record"/> is set), otherwise what is wrong.</summary>
    public static string? Parse(JsonElement json, string where, out PreferenceRecord? record)
    {
        record = null;
        if (json.ValueKind != JsonValueKind.Object) return InstructionRecordParser.NotAnObject(json);
        if (Messages(json, "chosen", ChatMessage.AssistantRole, out var chosen) is { } p1) return p1;
        if (Messages(json, "rejected", ChatMessage.AssistantRole, out var rejected) is { } p2) return p2;
        List<ChatMessage> prompt;
        if (json.TryGetProperty("prompt", out var given) && given.ValueKind != JsonValueKind.Null)
        {
            if (Messages(json, "prompt", ChatMessage.UserRole, out prompt) is { } p3) return p3;
        }
        else if (json.GetProperty("chosen").ValueKind == JsonValueKind.String)
            return InstructionRecordParser.Missing(json, "prompt") + ": with \"chosen\" and \"rejected\" as strings the prompt must be " +
                   "given (only conversations can share their first turns)";
        else if (SharedPrompt(chosen, rejected) is { } shared)
        {
            prompt = chosen[..shared];
            chosen = chosen[shared..];
            rejected = rejected[shared..];
        }
        else
            return "there is no \"prompt\" field and \"chosen\" and \"rejected\" share no first turns that end with a user message, " +
                   "so the prompt cannot be told from the answers";
        if (PreferenceRecord.Problem(prompt, chosen, rejected) is { } problem) return problem;
        record = new PreferenceRecord(prompt, chosen, rejected, where);
        return null;
    }

    /// <summary>How many first messages make the implicit prompt: the turns both conversations share, up to the last
    /// user turn among them (what follows it is the answer); null when they share no user turn.</summary>
    static int? SharedPrompt(List<ChatMessage> chosen, List<ChatMessage> rejected)
    {
        int shared = 0;
        while (shared < chosen.Count && shared < rejected.Count && chosen[shared] == rejected[shared]) shared++;
        if (shared == 0) return null;
        int lastUser = chosen.FindLastIndex(shared - 1, shared, m => m.Role == ChatMessage.UserRole);
        return lastUser < 0 ? null : lastUser + 1;
    }

    /// <summary>A string field is one message of <paramref name="role"/>; an array is a list of messages.</summary>
    static string? Messages(JsonElement json, string field, string role, out List<ChatMessage> messages)
    {
        messages = [];
        if (!json.TryGetProperty(field, out var element)) return InstructionRecordParser.Missing(json, field);
        if (element.ValueKind == JsonValueKind.Array) return InstructionRecordParser.ReadMessages(json, messages, field);
        if (element.ValueKind != JsonValueKind.String)
            return $"field \"{field}\" is {JsonFile.Describe(element.ValueKind)}, expected a string or an array of {{\"role\", \"content\"}} objects";
        if (string.IsNullOrWhiteSpace(element.GetString())) return $"field \"{field}\" is empty";
        messages.Add(new ChatMessage(role, element.GetString()!));
        return null;
    }
}
