using System.Text;
using System.Text.Json.Nodes;

namespace SharpLM.Tests.Formats.Fuzz;

/// <summary>
/// Deterministic mutants of a valid input (the same seed gives the same mutants on every machine): byte-level damage
/// (truncation, flipped bytes, invalid UTF-8) for any file, and for JSON also a value replaced by another type, by an
/// extreme or negative number, or by a string with an unpaired surrogate escape.
/// </summary>
static class Mutants
{
    /// <summary>Numbers that break size arithmetic, ranges and parsers.</summary>
    static readonly string[] ExtremeNumbers =
        ["-1", "0", "-5", "2147483647", "-2147483648", "4294967296", "9223372036854775807", "1e400", "-1e400", "1e308", "1e-320", "0.5", "65536"];

    static readonly string[] OtherTypes = ["\"text\"", "\"\"", "[]", "[1, \"a\"]", "{}", "{\"a\": 1}", "null", "true", "false", "\"\\ud800\""];

    /// <summary>Truncations, byte flips and invalid UTF-8 insertions of <paramref name="valid"/>.</summary>
    public static IEnumerable<(string Kind, byte[] Bytes)> Bytes(byte[] valid, int seed, int count)
    {
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            var bytes = valid.ToArray();
            switch (i % 4)
            {
                case 0:
                    yield return ("truncated", bytes[..random.Next(bytes.Length)]);
                    break;
                case 1:
                    for (int flips = random.Next(1, 4); flips > 0; flips--) bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
                    yield return ("flipped bytes", bytes);
                    break;
                case 2:
                    int at = random.Next(bytes.Length);
                    // the last is UTF-8 for U+D800
                    byte[] invalid = random.Next(3) switch { 0 => [0xFF], 1 => [0xC3, 0x28], _ => [0xED, 0xA0, 0x80] };
                    yield return ("invalid UTF-8", [.. bytes[..at], .. invalid, .. bytes[at..]]);
                    break;
                default:
                    int start = random.Next(bytes.Length), length = Math.Min(bytes.Length - start, random.Next(1, 64));
                    random.NextBytes(bytes.AsSpan(start, length));
                    yield return ("random run", bytes);
                    break;
            }
        }
    }

    /// <summary>JSON mutants: one value (anywhere in the tree) replaced by another type, an extreme number or a lone
    /// surrogate; the top level replaced by a non-object; a huge string.</summary>
    public static IEnumerable<(string Kind, byte[] Bytes)> Json(string valid, int seed, int count)
    {
        var random = new Random(seed);
        var paths = new List<string>();
        Collect(JsonNode.Parse(valid)!, "", paths);
        for (int i = 0; i < count; i++)
        {
            var root = JsonNode.Parse(valid)!;
            string path = paths[random.Next(paths.Count)];
            switch (i % 5)
            {
                case 0 or 1:
                    Replace(root, path, ExtremeNumbers[random.Next(ExtremeNumbers.Length)], out var numbered);
                    yield return ("extreme number", Encoding.UTF8.GetBytes(numbered));
                    break;
                case 2 or 3:
                    Replace(root, path, OtherTypes[random.Next(OtherTypes.Length)], out var retyped);
                    yield return ("wrong type", Encoding.UTF8.GetBytes(retyped));
                    break;
                default:
                    string[] tops = ["[]", "42", "\"config\"", "null", "[{}]", "{\"a\": " + new string('[', 100) + new string(']', 100) + "}"];
                    yield return ("not an object", Encoding.UTF8.GetBytes(tops[random.Next(tops.Length)]));
                    break;
            }
        }
    }

    /// <summary>Paths (property names, and array indices after '\u0002', joined with '\u0001') of the values in the tree.</summary>
    static void Collect(JsonNode node, string path, List<string> paths)
    {
        if (path.Length > 0) paths.Add(path);
        switch (node)
        {
            case JsonObject o:
                // At most 50 fields per object: a tokenizer's vocabulary would otherwise dominate.
                foreach (var (name, child) in o.Take(50).ToList())
                    if (child is not null) Collect(child, path + "\u0001" + name, paths);
                    else paths.Add(path + "\u0001" + name);
                break;
            case JsonArray a:
                // The first few elements stand for the rest (merges lists are long).
                for (int i = 0; i < Math.Min(a.Count, 3); i++)
                    if (a[i] is { } child) Collect(child, path + "\u0001\u0002" + i, paths);
                break;
        }
    }

    /// <summary>Replaces the value at <paramref name="path"/> with raw JSON text (which may be invalid as a value, as
    /// "1e400" is for System.Text.Json's nodes), returning the whole document's text.</summary>
    static void Replace(JsonNode root, string path, string raw, out string text)
    {
        const string marker = "\"__fuzz_marker__\"";
        var parts = path.Split('\u0001', StringSplitOptions.RemoveEmptyEntries);
        JsonNode parent = root;
        foreach (var part in parts[..^1]) parent = part.StartsWith('\u0002') ? parent[int.Parse(part[1..])]! : parent[part]!;
        string last = parts[^1];
        if (last.StartsWith('\u0002')) parent[int.Parse(last[1..])] = "__fuzz_marker__";
        else parent[last] = "__fuzz_marker__";
        text = root.ToJsonString().Replace(marker, raw);
    }
}
