using System.Text.Json;
using SharpLM.Chat;
using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>Turns one record into an <see cref="InstructionRecord"/>. Every input is a JSON object here: JSONL lines
/// as they are, CSV and Parquet rows converted by their readers, so all files follow the same rules and messages.</summary>
internal static class InstructionRecordParser
{
    /// <summary>The format the record's fields suggest (see <see cref="InstructionFormat.Auto"/> for the order), or null.</summary>
    public static InstructionFormat? Detect(JsonElement record)
    {
        if (record.ValueKind != JsonValueKind.Object) return null;
        if (Has(record, "messages")) return InstructionFormat.Messages;
        if (Has(record, "instruction")) return InstructionFormat.Alpaca;
        if (Has(record, "prompt") || Has(record, "question")) return InstructionFormat.PromptCompletion;
        if (Has(record, "text")) return InstructionFormat.Text;
        return null;
    }

    /// <summary>Why <see cref="Detect"/> found no format.</summary>
    public static string DetectionProblem(JsonElement record) =>
        record.ValueKind != JsonValueKind.Object
            ? NotAnObject(record)
            : "cannot tell the format: expected a field \"messages\", \"instruction\", \"prompt\", \"question\" or \"text\" "
              + $"({FieldList(record)})";

    /// <summary>Null when the record is valid, otherwise what is wrong. <paramref name="record"/> stays null for an
    /// empty plain text, which is dropped and counted rather than treated as an error.</summary>
    public static string? Parse(JsonElement json, InstructionFormat format, string where, out InstructionRecord? record)
    {
        record = null;
        if (json.ValueKind != JsonValueKind.Object) return NotAnObject(json);
        if (format == InstructionFormat.Text)
        {
            if (RequiredString(json, "text", out string text) is { } problem) return problem;
            if (text.Length > 0) record = InstructionRecord.FromText(text, where);
            return null;
        }
        var messages = new List<ChatMessage>();
        string? wrong = format switch
        {
            InstructionFormat.Alpaca => ReadAlpaca(json, messages),
            InstructionFormat.PromptCompletion => ReadPromptCompletion(json, messages),
            InstructionFormat.Messages => ReadMessages(json, messages),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "a concrete format is needed here"),
        };
        wrong ??= Conversation.Problem(messages);
        if (wrong is null) record = InstructionRecord.FromConversation(new Conversation(messages, where));
        return wrong;
    }

    static string? ReadAlpaca(JsonElement json, List<ChatMessage> messages)
    {
        if (RequiredString(json, "instruction", out string instruction) is { } p1) return p1;
        if (OptionalString(json, "input", out string input) is { } p2) return p2;
        if (RequiredString(json, "output", out string output) is { } p3) return p3;
        if (OptionalSystem(json, messages) is { } p4) return p4;
        bool hasInput = !string.IsNullOrWhiteSpace(input);
        string user = string.IsNullOrWhiteSpace(instruction) ? input : hasInput ? instruction + "\n\n" + input : instruction;
        if (string.IsNullOrWhiteSpace(user)) return "field \"instruction\" is empty (and there is no input)";
        if (string.IsNullOrWhiteSpace(output)) return "field \"output\" is empty";
        messages.Add(new ChatMessage(ChatMessage.UserRole, user));
        messages.Add(new ChatMessage(ChatMessage.AssistantRole, output));
        return null;
    }

    static string? ReadPromptCompletion(JsonElement json, List<ChatMessage> messages)
    {
        var (promptField, answerField) = !Has(json, "prompt") && Has(json, "question") ? ("question", "answer") : ("prompt", "completion");
        if (RequiredString(json, promptField, out string prompt) is { } p1) return p1;
        if (RequiredString(json, answerField, out string answer) is { } p2) return p2;
        if (OptionalSystem(json, messages) is { } p3) return p3;
        if (string.IsNullOrWhiteSpace(prompt)) return $"field \"{promptField}\" is empty";
        if (string.IsNullOrWhiteSpace(answer)) return $"field \"{answerField}\" is empty";
        messages.Add(new ChatMessage(ChatMessage.UserRole, prompt));
        messages.Add(new ChatMessage(ChatMessage.AssistantRole, answer));
        return null;
    }

    /// <summary>An optional <c>system</c> field; a blank one adds no system message (datasets often carry "").</summary>
    static string? OptionalSystem(JsonElement json, List<ChatMessage> messages)
    {
        if (OptionalString(json, "system", out string system) is { } problem) return problem;
        if (!string.IsNullOrWhiteSpace(system)) messages.Add(new ChatMessage(ChatMessage.SystemRole, system));
        return null;
    }

    /// <summary>An array of <c>{"role", "content"}</c> objects in <paramref name="field"/> (<c>messages</c>, or a preference
    /// record's <c>prompt</c>, <c>chosen</c> and <c>rejected</c>); problems name the item as <c>field[i]</c>.</summary>
    internal static string? ReadMessages(JsonElement json, List<ChatMessage> messages, string field = "messages")
    {
        if (!json.TryGetProperty(field, out var array)) return Missing(json, field);
        if (array.ValueKind != JsonValueKind.Array)
            return $"field \"{field}\" is {JsonFile.Describe(array.ValueKind)}, expected an array of {{\"role\", \"content\"}} objects";
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
                return $"{field}[{i}] is {JsonFile.Describe(item.ValueKind)}, expected an object with \"role\" and \"content\"";
            if (RequiredString(item, "role", out string role) is { } p1) return $"{field}[{i}]: {p1}";
            if (RequiredString(item, "content", out string content) is { } p2) return $"{field}[{i}]: {p2}";
            messages.Add(new ChatMessage(role, content));
            i++;
        }
        return messages.Count == 0 ? $"field \"{field}\" is an empty array" : null;
    }

    internal static string? RequiredString(JsonElement json, string field, out string value)
    {
        value = "";
        if (!json.TryGetProperty(field, out var element)) return Missing(json, field);
        if (element.ValueKind != JsonValueKind.String)
            return $"field \"{field}\" is {JsonFile.Describe(element.ValueKind)}, expected a string";
        value = element.GetString()!;
        return null;
    }

    /// <summary>Missing or null is "", anything else must be a string.</summary>
    static string? OptionalString(JsonElement json, string field, out string value)
    {
        value = "";
        if (!json.TryGetProperty(field, out var element) || element.ValueKind == JsonValueKind.Null) return null;
        return RequiredString(json, field, out value);
    }

    static bool Has(JsonElement json, string field) => json.TryGetProperty(field, out _);

    internal static string Missing(JsonElement json, string field) => $"field \"{field}\" is missing ({FieldList(json)})";

    static string FieldList(JsonElement json)
    {
        var names = json.EnumerateObject().Select(p => $"\"{p.Name}\"").Take(10).ToList();
        return names.Count == 0 ? "the object has no fields" : "the object has fields " + string.Join(", ", names);
    }

    internal static string NotAnObject(JsonElement json) => $"expected a JSON object, got {JsonFile.Describe(json.ValueKind)}";
}
