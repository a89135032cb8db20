using System.Text.Json;

namespace SharpLM.Tokenization;

/// <summary>Hugging Face's <c>tokenizer_config.json</c> beside tokenizer.json: which tokens play bos/eos/pad/unk, and
/// the Jinja chat_template (which the chat templates read).</summary>
public static class TokenizerConfigFile
{
    public const string FileName = "tokenizer_config.json";

    /// <summary>Every <c>*_token</c> field: its token text (written as a string or as an AddedToken object
    /// <c>{"content": ...}</c>), or null where the file declares none (Qwen's bos_token). Fields of another shape are left out.</summary>
    public static Dictionary<string, string?> SpecialTokens(JsonElement root)
    {
        var tokens = new Dictionary<string, string?>();
        foreach (var property in root.EnumerateObject())
        {
            if (!property.Name.EndsWith("_token", StringComparison.Ordinal)) continue;
            var value = property.Value;
            if (value.ValueKind == JsonValueKind.Null) tokens[property.Name] = null;
            else if (value.ValueKind == JsonValueKind.String) tokens[property.Name] = value.GetString();
            else if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content)
                     && content.ValueKind == JsonValueKind.String)
                tokens[property.Name] = content.GetString();
        }
        return tokens;
    }
}
