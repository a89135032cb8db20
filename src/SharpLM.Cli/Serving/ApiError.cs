namespace SharpLM.Cli.Serving;

/// <summary>A request the server refuses, answered with <paramref name="status"/> and OpenAI's error body
/// (<c>{"error": {"message", "type", "param", "code"}}</c>) so OpenAI clients show the message.</summary>
sealed class ApiError(int status, string message, string? param = null, string type = "invalid_request_error", string? code = null)
    : Exception(message)
{
    public int Status => status;

    /// <summary>The request field at fault, e.g. <c>messages[2].role</c>.</summary>
    public string? Param => param;

    public string Type => type;

    /// <summary>OpenAI's machine-readable reason, e.g. <c>model_not_found</c>.</summary>
    public string? Code => code;

    public static ApiError BadRequest(string message, string? param = null) => new(400, message, param);
}
