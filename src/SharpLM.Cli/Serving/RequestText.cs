using System.Text.Json;

namespace SharpLM.Cli.Serving;

/// <summary>
/// System.Text.Json parses a string with invalid UTF-8 or an escaped lone surrogate (<c>"\ud800"</c>) without
/// complaint and throws only when the string is read. The request is checked once, whole, so such text anywhere is a
/// 400 naming its field rather than a 500 wherever it is first read.
/// </summary>
static class RequestText
{
    public static void Check(JsonElement value, string path = "")
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                Read(() => value.GetString(), path);
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in value.EnumerateArray()) Check(item, $"{path}[{i++}]");
                break;
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    var name = Read(() => property.Name, path.Length == 0 ? "a field name" : $"a field name in {path}");
                    Check(property.Value, path.Length == 0 ? name : $"{path}.{name}");
                }
                break;
        }
    }

    static string Read(Func<string?> read, string path)
    {
        try
        {
            return read() ?? "";
        }
        catch (InvalidOperationException)
        {
            throw ApiError.BadRequest($"{path} is not valid text: it has invalid UTF-8 or a lone UTF-16 surrogate", path);
        }
    }
}
