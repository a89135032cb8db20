using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace SharpLM.Chat.Jinja;

/// <summary>A template failed to parse or to render; the message says where and why.</summary>
public class JinjaException(string message) : SharpLMException(message);

/// <summary>Jinja's undefined value: what a missing variable, key or attribute gives. Renders as "", is false,
/// and fails when used further (an attribute of it, a call).</summary>
sealed class Undefined(string name)
{
    public string Name => name;

    public override string ToString() => "";
}

/// <summary>What <c>namespace(...)</c> makes: an object whose attributes <c>set ns.x = ...</c> may change inside a loop.</summary>
sealed class Namespace(Dictionary<string, object?> attributes)
{
    public Dictionary<string, object?> Attributes => attributes;
}

/// <summary>A function a template can call: built-ins and methods of strings, lists and dicts.</summary>
delegate object? JinjaCallable(List<object?> args, Dictionary<string, object?> kwargs);

/// <summary>
/// Values are plain .NET objects, as in Python's Jinja: null (none), <see cref="Undefined"/>, bool, long, double,
/// string, <c>List&lt;object?&gt;</c> (list), <c>Dictionary&lt;string, object?&gt;</c> (dict, in insertion order),
/// <see cref="Namespace"/> and <see cref="JinjaCallable"/>. These helpers give them Python's meaning.
/// </summary>
static class JinjaValues
{
    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        Dictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    /// <summary>How <c>{{ v }}</c> and the string filter write a value (Python's str()); a list or dict whose text
    /// would pass <paramref name="max"/> characters is refused.</summary>
    public static string Str(object? v, int max) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v, max),
    };

    /// <summary>Python's repr(): how values inside a list or dict are written.</summary>
    public static string Repr(object? v, int max)
    {
        var sb = new StringBuilder();
        WriteRepr(sb, v, max);
        return sb.ToString();
    }

    static void WriteRepr(StringBuilder sb, object? v, int max)
    {
        switch (v)
        {
            case null: sb.Append("None"); break;
            case Undefined: break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FormatDouble(d)); break;
            case string s: sb.Append('\'').Append(s.Replace("\\", "\\\\").Replace("'", "\\'").Replace("\n", "\\n")).Append('\''); break;
            case List<object?> l:
                CheckStack();
                sb.Append('[');
                for (int i = 0; i < l.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    WriteRepr(sb, l[i], max);
                }
                sb.Append(']');
                break;
            case Dictionary<string, object?> d:
                CheckStack();
                sb.Append('{');
                bool first = true;
                foreach (var (key, value) in d)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    WriteRepr(sb, key, max);
                    sb.Append(": ");
                    WriteRepr(sb, value, max);
                }
                sb.Append('}');
                break;
            case Namespace: sb.Append("<Namespace>"); break;
            default: sb.Append(v.ToString()); break;
        }
        CheckLength(sb, max);
    }

    static void CheckLength(StringBuilder sb, int max)
    {
        if (sb.Length > max) throw new JinjaLimitException($"a value's text would be longer than {max} characters (JinjaLimits.MaxOutputChars)");
    }

    /// <summary>Values nest without bound (a namespace can hold itself): writing or comparing them stops before the stack ends.</summary>
    static void CheckStack()
    {
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new JinjaLimitException("a value is nested too deep to write or compare (JinjaLimits.MaxDepth)");
    }

    static string FormatDouble(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') ? s : s + ".0";
    }

    public static string TypeName(object? v) => v switch
    {
        null => "none",
        Undefined => "undefined",
        bool => "boolean",
        long => "integer",
        double => "float",
        string => "string",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        Namespace => "namespace",
        JinjaCallable => "function",
        _ => v.GetType().Name,
    };

    /// <summary>The type with its article, for messages: "a string", "an integer".</summary>
    public static string Article(object? v) => TypeName(v) is var t && "aeiou".Contains(t[0]) ? "an " + t : "a " + t;

    public static new bool Equals(object? a, object? b)
    {
        if (a is List<object?> or Dictionary<string, object?>) CheckStack();
        return EqualsAt(a, b);
    }

    static bool EqualsAt(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (Undefined, Undefined) => true,
        (bool x, bool y) => x == y,
        (long or double, long or double) when a is not bool && b is not bool => ToDouble(a) == ToDouble(b),
        (string x, string y) => x == y,
        (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Equals(p.First, p.Second)),
        (Dictionary<string, object?> x, Dictionary<string, object?> y) =>
            x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var o) && Equals(kv.Value, o)),
        _ => ReferenceEquals(a, b),
    };

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaException($"expected a number, got {TypeName(v)}"),
    };

    /// <summary>The items a for loop or a list filter walks: a list's elements, a dict's keys, a string's characters.</summary>
    public static List<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        Dictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        string s => StringElements(s),
        Undefined u => throw new JinjaException($"'{u.Name}' is undefined and cannot be looped over"),
        null => throw new JinjaException("none cannot be looped over"),
        _ => throw new JinjaException($"{Article(v)} cannot be looped over"),
    };

    /// <summary>A string's characters as Python sees them (code points, so an emoji is one).</summary>
    public static List<object?> StringElements(string s)
    {
        var list = new List<object?>();
        for (int i = 0; i < s.Length;)
        {
            int step = char.IsSurrogatePair(s, i) ? 2 : 1;
            list.Add(s.Substring(i, step));
            i += step;
        }
        return list;
    }

    /// <summary>JSON as Python's json.dumps writes it with ensure_ascii=False: ", " and ": " separators, or
    /// newlines and <paramref name="indent"/> spaces per level.</summary>
    public static string ToJson(object? v, int max, int? indent = null)
    {
        var sb = new StringBuilder();
        WriteJson(sb, v, indent, 0, max);
        return sb.ToString();
    }

    static void WriteJson(StringBuilder sb, object? v, int? indent, int depth, int max)
    {
        CheckStack();
        switch (v)
        {
            case null or Undefined: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long or double: WriteRepr(sb, v, max); break;
            case string s: WriteJsonString(sb, s); break;
            case List<object?> l: WriteJsonItems(sb, '[', ']', l.Select(x => ((string?)null, x)).ToList(), indent, depth, max); break;
            case Dictionary<string, object?> d:
                WriteJsonItems(sb, '{', '}', d.Select(kv => ((string?)kv.Key, kv.Value)).ToList(), indent, depth, max);
                break;
            case Namespace n:
                WriteJsonItems(sb, '{', '}', n.Attributes.Select(kv => ((string?)kv.Key, kv.Value)).ToList(), indent, depth, max);
                break;
            default: throw new JinjaException($"{Article(v)} cannot be written as JSON");
        }
    }

    static void WriteJsonItems(StringBuilder sb, char open, char close, List<(string? Key, object? Value)> items, int? indent, int depth, int max)
    {
        sb.Append(open);
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0) sb.Append(indent is null ? ", " : ",");
            if (indent is { } n) Indent(sb, n, depth + 1, max);
            if (items[i].Key is { } key) { WriteJsonString(sb, key); sb.Append(": "); }
            WriteJson(sb, items[i].Value, indent, depth + 1, max);
            CheckLength(sb, max);
        }
        if (indent is { } m && items.Count > 0) Indent(sb, m, depth, max);
        sb.Append(close);
    }

    static void Indent(StringBuilder sb, int indent, int depth, int max)
    {
        long spaces = Math.Max(0, (long)indent * depth);
        if (sb.Length + spaces > max)
            throw new JinjaLimitException($"a value's JSON would be longer than {max} characters (JinjaLimits.MaxOutputChars)");
        sb.Append('\n').Append(' ', (int)spaces);
    }

    static void WriteJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append($"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
