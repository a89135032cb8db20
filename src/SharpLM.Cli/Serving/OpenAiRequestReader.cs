using System.Text;
using System.Text.Json;
using SharpLM.Chat;
using SharpLM.Generation;

namespace SharpLM.Cli.Serving;

/// <summary>
/// Reads the body of an OpenAI <c>/v1/chat/completions</c> or <c>/v1/completions</c> request into a
/// <see cref="GenerationRequest"/>. Fields SharpLM cannot honour (several choices, presence/frequency penalties,
/// log-probabilities, tools) are refused with a message rather than silently ignored; fields that do not change the
/// output (<c>user</c>, <c>model</c>...) are accepted. Beyond OpenAI's fields it takes the sampling settings of
/// <c>sharplm generate</c> under the names vLLM and llama.cpp's server use: <c>top_k</c>, <c>min_p</c>,
/// <c>repetition_penalty</c>, <c>ignore_eos</c>, plus <c>repetition_penalty_range</c>.
/// </summary>
static class OpenAiRequestReader
{
    /// <summary>A chat request: <c>messages</c> rendered with the model's chat template, within <paramref name="limits"/>;
    /// <paramref name="cancel"/> (the client went away) stops the render.</summary>
    public static GenerationRequest ReadChat(JsonElement body, ServedModel model, ServeLimits? limits = null, CancellationToken cancel = default)
    {
        limits ??= new ServeLimits();
        RequireObject(body);
        var messages = ReadMessages(body, limits);
        int[] prompt;
        ChatTemplate template;
        try
        {
            template = model.Template.WithVariables(TemplateKwargs(body, limits)).WithLimits(limits.Template);
        }
        catch (SharpLMException e)
        {
            throw ApiError.BadRequest(e.Message, "chat_template_kwargs");
        }
        try
        {
            prompt = template.RenderPrompt(model.Loaded.Tokenizer, messages, cancel);
        }
        catch (SharpLMException e)
        {
            throw ApiError.BadRequest(e.Message, "messages");
        }
        var options = ReadSampling(body, model);
        options = options with { StopStrings = [.. options.StopStrings, .. template.StopStrings] };
        return Checked(new GenerationRequest(prompt, options, model.ChatStopTokens), model, "messages");
    }

    /// <summary>A plain completion: <c>prompt</c> continued as text, after the begin token.</summary>
    public static GenerationRequest ReadCompletion(JsonElement body, ServedModel model, ServeLimits? limits = null)
    {
        limits ??= new ServeLimits();
        RequireObject(body);
        Refuse(body, "echo", v => v.ValueKind == JsonValueKind.True, "echo is not supported");
        Refuse(body, "suffix", v => v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0, "suffix (fill in the middle) is not supported");
        if (!body.TryGetProperty("prompt", out var p) || p.ValueKind == JsonValueKind.Null)
            throw ApiError.BadRequest("prompt is required", "prompt");
        string text = p.ValueKind switch
        {
            JsonValueKind.String => p.GetString()!,
            JsonValueKind.Array when p.GetArrayLength() == 1 && p[0].ValueKind == JsonValueKind.String => p[0].GetString()!,
            JsonValueKind.Array =>
                throw ApiError.BadRequest("prompt must be one string (several prompts in one request are not supported)", "prompt"),
            _ => throw ApiError.BadRequest($"prompt must be a string, not {Describe(p)}", "prompt"),
        };
        if (text.Length > limits.MaxPromptChars)
            throw ApiError.BadRequest($"prompt is {text.Length} characters; this server takes at most {limits.MaxPromptChars}", "prompt");
        var prompt = model.Loaded.EncodePrompt(text);
        if (prompt.Length == 0) throw ApiError.BadRequest("prompt is empty and the tokenizer has no begin token to start from", "prompt");
        return Checked(new GenerationRequest(prompt, ReadSampling(body, model), model.CompletionStopTokens), model, "prompt");
    }

    /// <summary>vLLM's <c>chat_template_kwargs</c>: variables for the model's own Jinja template (e.g.
    /// <c>{"enable_thinking": false}</c> for Qwen3).</summary>
    static Dictionary<string, object?> TemplateKwargs(JsonElement body, ServeLimits limits)
    {
        if (!body.TryGetProperty("chat_template_kwargs", out var kwargs) || kwargs.ValueKind == JsonValueKind.Null) return [];
        if (kwargs.ValueKind != JsonValueKind.Object)
            throw ApiError.BadRequest($"chat_template_kwargs must be an object, not {Describe(kwargs)}", "chat_template_kwargs");
        if (kwargs.GetRawText().Length is var size && size > limits.MaxTemplateKwargsChars)
            throw ApiError.BadRequest($"chat_template_kwargs is {size} characters of JSON; this server takes at most {limits.MaxTemplateKwargsChars}",
                "chat_template_kwargs");
        return kwargs.EnumerateObject().ToDictionary(p => p.Name, p => JsonValue(p.Value));
    }

    static object? JsonValue(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number when v.TryGetInt64(out var l) => l,
        JsonValueKind.Number => v.GetDouble(),
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Array => v.EnumerateArray().Select(JsonValue).ToList(),
        JsonValueKind.Object => v.EnumerateObject().ToDictionary(p => p.Name, p => JsonValue(p.Value)),
        _ => null,
    };

    /// <summary>Whether the client asked for server-sent events, and for a final usage chunk with them.</summary>
    public static (bool Stream, bool IncludeUsage) ReadStreaming(JsonElement body)
    {
        bool stream = Bool(body, "stream") ?? false;
        bool usage = body.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
                     && (Bool(so, "include_usage", "stream_options.") ?? false);
        return (stream, usage);
    }

    static List<ChatMessage> ReadMessages(JsonElement body, ServeLimits limits)
    {
        if (!body.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            throw ApiError.BadRequest("messages must be a non-empty array of {role, content} objects", "messages");
        if (list.GetArrayLength() > limits.MaxMessages)
            throw ApiError.BadRequest($"messages has {list.GetArrayLength()} entries; this server takes at most {limits.MaxMessages}", "messages");
        var messages = new List<ChatMessage>();
        int i = 0;
        foreach (var m in list.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest($"{at} must be an object with role and content", at);
            string role = String(m, "role", at + ".") switch
            {
                "system" or "developer" => ChatMessage.SystemRole,
                "user" => ChatMessage.UserRole,
                "assistant" => ChatMessage.AssistantRole,
                null => throw ApiError.BadRequest($"{at}.role is required", at + ".role"),
                var other => throw ApiError.BadRequest($"{at}.role \"{other}\" is not supported: expected system, developer, user or assistant",
                    at + ".role"),
            };
            messages.Add(new ChatMessage(role, Content(m, at)));
        }
        if (messages.Sum(m => (long)m.Content.Length) is var chars && chars > limits.MaxPromptChars)
            throw ApiError.BadRequest($"messages hold {chars} characters; this server takes at most {limits.MaxPromptChars}", "messages");
        return messages;
    }

    /// <summary>Message content: a string, or an array of text parts (what newer OpenAI clients send).</summary>
    static string Content(JsonElement message, string at)
    {
        if (!message.TryGetProperty("content", out var c) || c.ValueKind == JsonValueKind.Null)
            throw ApiError.BadRequest($"{at}.content is required", at + ".content");
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind != JsonValueKind.Array)
            throw ApiError.BadRequest($"{at}.content must be a string or an array of text parts, not {Describe(c)}", at + ".content");
        var text = new StringBuilder();
        int j = 0;
        foreach (var part in c.EnumerateArray())
        {
            string partAt = $"{at}.content[{j++}]";
            if (part.ValueKind != JsonValueKind.Object || String(part, "type", partAt + ".") != "text"
                || String(part, "text", partAt + ".") is not { } s)
                throw ApiError.BadRequest($"{partAt}: only {{\"type\": \"text\", \"text\": ...}} parts are supported (this model reads text only)",
                    partAt);
            text.Append(s);
        }
        return text.ToString();
    }

    static SamplingOptions ReadSampling(JsonElement body, ServedModel model)
    {
        Refuse(body, "n", v => v.ValueKind == JsonValueKind.Number && (!v.TryGetInt32(out var n) || n != 1), "n must be 1: one choice per request");
        Refuse(body, "best_of", v => v.ValueKind == JsonValueKind.Number && (!v.TryGetInt32(out var n) || n != 1), "best_of must be 1");
        Refuse(body, "presence_penalty", NonZero, "presence_penalty is not supported; use repetition_penalty");
        Refuse(body, "frequency_penalty", NonZero, "frequency_penalty is not supported; use repetition_penalty");
        Refuse(body, "logit_bias", v => v.ValueKind == JsonValueKind.Object && v.EnumerateObject().Any(), "logit_bias is not supported");
        Refuse(body, "logprobs", v => v.ValueKind == JsonValueKind.True || v.ValueKind == JsonValueKind.Number, "logprobs are not supported");
        Refuse(body, "tools", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0, "tools are not supported");
        Refuse(body, "response_format", v => v.ValueKind == JsonValueKind.Object && String(v, "type", "response_format.") is not (null or "text"),
            "response_format must be text (JSON modes are not supported)");

        var request = new SamplingRequest
        {
            MaxTokens = Int(body, "max_completion_tokens") ?? Int(body, "max_tokens"),
            Temperature = Float(body, "temperature"),
            TopP = Float(body, "top_p"),
            TopK = Int(body, "top_k"),
            MinP = Float(body, "min_p"),
            RepetitionPenalty = Float(body, "repetition_penalty"),
            RepetitionPenaltyRange = Int(body, "repetition_penalty_range"),
            Seed = Field<long>(body, "seed", "", "an integer", v => v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var x) ? x : null),
            Stop = Stops(body),
            IgnoreEos = Bool(body, "ignore_eos"),
        };
        try
        {
            return request.ApplyTo(model.Defaults); // the same mapping and checks as the command line and the IChatClient
        }
        catch (SamplingFieldException e)
        {
            throw ApiError.BadRequest(e.Message, e.Field);
        }
        catch (SharpLMException e)
        {
            throw ApiError.BadRequest(e.Message);
        }
    }

    static GenerationRequest Checked(GenerationRequest request, ServedModel model, string param)
    {
        if (request.Prompt.Length >= model.ContextLength)
            throw ApiError.BadRequest(
                $"{(model.ContextLength < model.Loaded.Model.Config.MaxPositionEmbeddings ? "this server's (--kv-cache-mb)" : "this model's")} " +
                $"context is {model.ContextLength} tokens and the {param} take {request.Prompt.Length}; shorten them", param);
        return request;
    }

    static List<string>? Stops(JsonElement body)
    {
        if (!body.TryGetProperty("stop", out var s) || s.ValueKind == JsonValueKind.Null) return null;
        if (s.ValueKind == JsonValueKind.String) return [s.GetString()!];
        if (s.ValueKind == JsonValueKind.Array && s.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            return s.EnumerateArray().Select(e => e.GetString()!).ToList();
        throw ApiError.BadRequest($"stop must be a string or an array of strings, not {Describe(s)}", "stop");
    }

    static bool NonZero(JsonElement v) => v.ValueKind == JsonValueKind.Number && v.GetDouble() != 0;

    static void Refuse(JsonElement body, string name, Func<JsonElement, bool> unsupported, string message)
    {
        if (body.TryGetProperty(name, out var v) && unsupported(v)) throw ApiError.BadRequest(message, name);
    }

    static void RequireObject(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest($"the request body must be a JSON object, not {Describe(body)}");
    }

    // Typed optional fields: absent or null = the default; any other type is an error naming the field.
    static int? Int(JsonElement o, string name) =>
        Field<int>(o, name, "", "an integer", v => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null);

    static float? Float(JsonElement o, string name) =>
        Field<float>(o, name, "", "a number", v => v.ValueKind == JsonValueKind.Number ? (float)v.GetDouble() : null);

    static bool? Bool(JsonElement o, string name, string prefix = "") => Field<bool>(o, name, prefix, "true or false",
        v => v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => (bool?)null });

    static string? String(JsonElement o, string name, string prefix) => o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null
        ? v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : throw ApiError.BadRequest($"{prefix}{name} must be a string, not {Describe(v)}", prefix + name)
        : null;

    static T? Field<T>(JsonElement o, string name, string prefix, string expected, Func<JsonElement, T?> read) where T : struct
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return read(v) ?? throw ApiError.BadRequest($"{prefix}{name} must be {expected}, not {Describe(v)}", prefix + name);
    }

    static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{Truncate(v.GetString()!)}\"",
        JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
        _ => v.GetRawText(),
    };

    static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
