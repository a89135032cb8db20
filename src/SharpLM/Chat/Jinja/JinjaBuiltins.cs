using System.Globalization;
using System.Text;
using static SharpLM.Chat.Jinja.JinjaValues;

namespace SharpLM.Chat.Jinja;

/// <summary>
/// The functions, filters, tests and methods chat templates use, with Python's behaviour: globals
/// <c>range</c>, <c>namespace</c>, <c>raise_exception</c>, <c>strftime_now</c>; string methods (strip, split,
/// startswith...), dict methods (items, keys, values, get), list methods (index, count); Jinja's common filters
/// and tests. Anything else fails with a message naming it.
/// </summary>
sealed class JinjaBuiltins(DateTime now, RenderBudget budget)
{
    /// <summary>Python's str() of a value, refused past the size limit.</summary>
    string Text(object? v) => Str(v, budget.MaxChars);

    /// <summary>A value for an error message: its repr, shortened.</summary>
    string Quote(object? v) =>
        Repr(v is string or long or double or bool or null ? v : TypeName(v), budget.MaxChars) is var r && r.Length > 60 ? r[..60] + "..." : r;

    public Dictionary<string, object?> Globals() => new()
    {
        ["range"] = (JinjaCallable)((a, _) => Range(a)),
        ["namespace"] = (JinjaCallable)((a, k) =>
            new Namespace(a.Count == 0 ? new(k) : throw new JinjaException("namespace() takes only name=value arguments"))),
        ["raise_exception"] = (JinjaCallable)((a, _) =>
            throw new RaisedException(a.Count > 0 ? Text(a[0]) : "the chat template raised an exception")),
        ["strftime_now"] = (JinjaCallable)((a, _) =>
            Strftime(now, a.Count > 0 && a[0] is string f ? f : throw new JinjaException("strftime_now(format) needs a format string"))),
    };

    // ---- attributes and items ----

    /// <summary><c>x.name</c>: a method of x, else x["name"] for a dict, else undefined.</summary>
    public object? GetAttribute(object? target, string name, string described)
    {
        if (target is Undefined u) throw new JinjaException($"'{u.Name}' is undefined (reading .{name} of it)");
        if (Method(target, name) is { } method) return method;
        return target switch
        {
            Dictionary<string, object?> d => d.TryGetValue(name, out var v) ? v : new Undefined($"{described}.{name}"),
            Namespace n => n.Attributes.TryGetValue(name, out var v) ? v : new Undefined($"{described}.{name}"),
            _ => new Undefined($"{described}.{name}"),
        };
    }

    /// <summary><c>x[key]</c>: an element or key, else a method named key, else undefined.</summary>
    public object? GetItem(object? target, object? key, string described)
    {
        if (target is Undefined u) throw new JinjaException($"'{u.Name}' is undefined (reading [{Quote(key)}] of it)");
        switch (target, key)
        {
            case (List<object?> list, long i):
                var index = i < 0 ? i + list.Count : i;
                return index >= 0 && index < list.Count ? list[(int)index] : new Undefined($"{described}[{i}]");
            case (string s, long i) when !s.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF'):
                var at16 = i < 0 ? i + s.Length : i;
                return at16 >= 0 && at16 < s.Length ? s[(int)at16].ToString() : new Undefined($"{described}[{i}]");
            case (string s, long i):
                var chars = StringElements(s);
                var at = i < 0 ? i + chars.Count : i;
                return at >= 0 && at < chars.Count ? chars[(int)at] : new Undefined($"{described}[{i}]");
            case (Dictionary<string, object?> d, string k) when d.TryGetValue(k, out var v): return v;
            case (_, string name): return GetAttribute(target, name, described);
            default: return new Undefined($"{described}[{Quote(key)}]");
        }
    }

    object? Method(object? target, string name) => (target, name) switch
    {
        (string s, _) => StringMethod(s, name),
        (Dictionary<string, object?> d, "items") => (JinjaCallable)((_, _) =>
            d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList()),
        (Dictionary<string, object?> d, "keys") => (JinjaCallable)((_, _) => d.Keys.Cast<object?>().ToList()),
        (Dictionary<string, object?> d, "values") => (JinjaCallable)((_, _) => d.Values.ToList()),
        (Dictionary<string, object?> d, "get") => (JinjaCallable)((a, _) =>
            a.Count > 0 && a[0] is string k && d.TryGetValue(k, out var v) ? v : a.Count > 1 ? a[1] : null),
        (List<object?> l, "index") => (JinjaCallable)((a, _) => (long)l.FindIndex(x => JinjaValues.Equals(x, Arg(a, 0, "index")))),
        (List<object?> l, "count") => (JinjaCallable)((a, _) => (long)l.Count(x => JinjaValues.Equals(x, Arg(a, 0, "count")))),
        _ => null,
    };

    JinjaCallable? StringMethod(string s, string name) => name switch
    {
        "strip" => (a, _) => PyStrip(s, Chars(a), true, true),
        "lstrip" => (a, _) => PyStrip(s, Chars(a), true, false),
        "rstrip" => (a, _) => PyStrip(s, Chars(a), false, true),
        "startswith" => (a, _) => Affixes(Arg(a, 0, "startswith")).Any(p => s.StartsWith(p, StringComparison.Ordinal)),
        "endswith" => (a, _) => Affixes(Arg(a, 0, "endswith")).Any(p => s.EndsWith(p, StringComparison.Ordinal)),
        "split" => (a, k) => PySplit(s, a.Count > 0 ? a[0] as string : k.GetValueOrDefault("sep") as string, a.Count > 1 && a[1] is long m ? m : -1),
        "upper" => (_, _) => s.ToUpperInvariant(),
        "lower" => (_, _) => s.ToLowerInvariant(),
        "title" => (_, _) => Title(s),
        "capitalize" => (_, _) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(),
        "replace" => (a, _) => Replace(s, a),
        "find" => (a, _) => (long)s.IndexOf(Arg(a, 0, "find") as string ?? "", StringComparison.Ordinal),
        "count" => (a, _) => (long)CountOf(s, Arg(a, 0, "count") as string ?? ""),
        "join" => (a, _) => Join(s, Iterate(Arg(a, 0, "join")).Select(Text)),
        _ => null,
    };

    // ---- filters ----

    public object? Filter(string name, object? v, List<object?> a, Dictionary<string, object?> k) => name switch
    {
        "trim" => PyStrip(Text(v), a.Count > 0 ? a[0] as string : null, true, true),
        "length" or "count" => Length(v),
        "list" => Iterate(v).ToList(),
        "first" => Iterate(v) is { Count: > 0 } f ? f[0] : new Undefined("first"),
        "last" => Iterate(v) is { Count: > 0 } l ? l[^1] : new Undefined("last"),
        "join" => Join(a.Count > 0 ? Text(a[0]) : Text(k.GetValueOrDefault("d", "")),
            Iterate(v).Select(x => Text(k.TryGetValue("attribute", out var at) ? GetAttribute(x, Text(at), "item") : x))),
        // These filters are the string methods of the same names applied to the value's text.
        "upper" or "lower" or "title" or "capitalize" or "replace" => StringMethod(Text(v), name)!(a, k),
        "default" or "d" => v is Undefined || (Truthy(a.Count > 1 ? a[1] : k.GetValueOrDefault("boolean", false)) && !Truthy(v))
            ? (a.Count > 0 ? a[0] : "")
            : v,
        "tojson" => ToJson(v, budget.MaxChars,
            (a.Count > 0 ? a[0] : k.GetValueOrDefault("indent")) is long n ? (int)Math.Clamp(n, 0, int.MaxValue) : null),
        "string" => Text(v),
        "int" => v switch
        {
            long l => l,
            double d => checked((long)d),
            string s when long.TryParse(s.Trim(), out var l) => l,
            _ => a.Count > 0 ? a[0] : 0L,
        },
        "float" => v switch
        {
            long l => (double)l,
            double d => d,
            string s when double.TryParse(s.Trim(), CultureInfo.InvariantCulture, out var d) => d,
            _ => 0.0,
        },
        "abs" => v switch
        {
            long l => (object)Math.Abs(l),
            double d => Math.Abs(d),
            _ => throw new JinjaException($"abs needs a number, not {Article(v)}"),
        },
        "reverse" => v is string s ? string.Concat(StringElements(s).Cast<string>().Reverse()) : Iterate(v).AsEnumerable().Reverse().ToList(),
        "items" => v is Dictionary<string, object?> d
            ? d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList()
            : throw new JinjaException($"items needs a dict, not {Article(v)}"),
        "safe" => v,
        "selectattr" or "rejectattr" =>
            Items(v).Where(x => SelectTest(Attribute(x, Text(Arg(a, 0, name))), a.Skip(1).ToList()) == (name == "selectattr")).ToList(),
        "select" or "reject" => Items(v).Where(x => SelectTest(x, a) == (name == "select")).ToList(),
        "map" => Items(v).Select(x => k.TryGetValue("attribute", out var at) ? Attribute(x, Text(at), k.GetValueOrDefault("default"))
            : Filter(Text(Arg(a, 0, "map")), x, a.Skip(1).ToList(), [])).ToList(),
        "unique" => Items(v).Aggregate(new List<object?>(), (seen, x) => { if (!seen.Any(y => JinjaValues.Equals(x, y))) seen.Add(x); return seen; }),
        _ => throw new JinjaException($"the filter '{name}' is not supported"),
    };

    /// <summary>The items of a filter that walks a list, each counted as a loop iteration (a filter is a loop too).</summary>
    IEnumerable<object?> Items(object? v)
    {
        foreach (var item in Iterate(v))
        {
            budget.Iteration();
            yield return item;
        }
    }

    /// <summary>The attribute <paramref name="path"/> (dotted for nested) of an item, as selectattr and map read it.</summary>
    object? Attribute(object? item, string path, object? fallback = null)
    {
        foreach (var part in path.Split('.'))
        {
            if (item is Undefined) break;
            item = long.TryParse(part, out var i) ? GetItem(item, i, "item") : GetItem(item, part, "item");
        }
        return item is Undefined && fallback is not null ? fallback : item;
    }

    bool SelectTest(object? value, List<object?> testAndArgs) =>
        testAndArgs.Count == 0 ? Truthy(value) : Test(Text(testAndArgs[0]), value, testAndArgs.Skip(1).ToList());

    // ---- tests ----

    public bool Test(string name, object? v, List<object?> a) => name switch
    {
        "defined" => v is not Undefined,
        "undefined" => v is Undefined,
        "none" => v is null,
        "boolean" => v is bool,
        "true" => v is true,
        "false" => v is false,
        "string" => v is string,
        "number" => v is long or double,
        "integer" => v is long,
        "float" => v is double,
        "mapping" => v is Dictionary<string, object?> or Namespace,
        "iterable" => v is List<object?> or Dictionary<string, object?> or string,
        "sequence" => v is List<object?> or Dictionary<string, object?> or string,
        "callable" => v is JinjaCallable,
        "odd" => v is long l && l % 2 != 0,
        "even" => v is long l && l % 2 == 0,
        "divisibleby" => v is long l && Arg(a, 0, name) is long d && d != 0 && l % d == 0,
        "equalto" or "eq" or "==" or "sameas" => JinjaValues.Equals(v, Arg(a, 0, name)),
        "ne" or "!=" => !JinjaValues.Equals(v, Arg(a, 0, name)),
        "in" => Contains(Arg(a, 0, name), v),
        "lower" => v is string s && s == s.ToLowerInvariant(),
        "upper" => v is string s && s == s.ToUpperInvariant(),
        _ => throw new JinjaException($"the test '{name}' is not supported"),
    };

    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string sub
            ? s.Contains(sub, StringComparison.Ordinal)
            : throw new JinjaException($"'in <string>' needs a string on the left, not {Article(item)}"),
        List<object?> l => l.Any(x => JinjaValues.Equals(x, item)),
        Dictionary<string, object?> d => item is string key && d.ContainsKey(key),
        Undefined => false,
        _ => throw new JinjaException($"'in' needs a string, list or dict on the right, not {Article(container)}"),
    };

    // ---- helpers with Python's behaviour ----

    static object? Arg(List<object?> args, int i, string what) =>
        i < args.Count ? args[i] : throw new JinjaException($"{what} needs at least {i + 1} argument{(i == 0 ? "" : "s")}");

    static string? Chars(List<object?> args) => args.Count > 0 ? args[0] as string : null;

    IEnumerable<string> Affixes(object? arg) => arg switch
    {
        string s => [s],
        List<object?> l => l.Select(Text),
        _ => throw new JinjaException($"startswith/endswith need a string or a tuple of strings, not {Article(arg)}"),
    };

    static long Length(object? v) => v switch
    {
        string s => s.Length - SurrogatePairs(s),
        List<object?> l => l.Count,
        Dictionary<string, object?> d => d.Count,
        Undefined => 0,
        _ => throw new JinjaException($"{Article(v)} has no length"),
    };

    /// <summary>string.Join, refused before building a text past the size limit.</summary>
    string Join(string separator, IEnumerable<string> items)
    {
        var pieces = items.ToList();
        budget.Size(pieces.Sum(p => (long)p.Length) + (long)separator.Length * Math.Max(0, pieces.Count - 1), "the text of join");
        return string.Join(separator, pieces);
    }

    static int SurrogatePairs(string s)
    {
        int pairs = 0;
        for (int i = 0; i + 1 < s.Length; i++)
            if (char.IsSurrogatePair(s[i], s[i + 1])) { pairs++; i++; }
        return pairs;
    }

    static string PyStrip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars is null ? char.IsWhiteSpace : chars.Contains;
        int start = 0, end = s.Length;
        if (left) while (start < end && strip(s[start])) start++;
        if (right) while (end > start && strip(s[end - 1])) end--;
        return s[start..end];
    }

    static List<object?> PySplit(string s, string? separator, long maxSplit)
    {
        if (separator is null)
        {
            var words = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (maxSplit < 0 || words.Length <= maxSplit) return words.Cast<object?>().ToList();
            var rest = s.TrimStart();
            var parts = new List<object?>();
            for (int n = 0; n < maxSplit; n++)
            {
                int cut = rest.IndexOfAny([' ', '\t', '\n', '\r', '\f', '\v']);
                parts.Add(rest[..cut]);
                rest = rest[cut..].TrimStart();
            }
            parts.Add(rest);
            return parts;
        }
        if (separator.Length == 0) throw new JinjaException("split: empty separator");
        var pieces = maxSplit < 0 ? s.Split(separator) : s.Split(separator, maxSplit >= int.MaxValue - 1 ? int.MaxValue : (int)maxSplit + 1);
        return pieces.Cast<object?>().ToList();
    }

    string Replace(string s, List<object?> args)
    {
        string old = Text(Arg(args, 0, "replace")), replacement = Text(Arg(args, 1, "replace"));
        if (old.Length > 0 && replacement.Length > old.Length)
            budget.Size(s.Length + (long)CountOf(s, old) * (replacement.Length - old.Length), "the text of replace()");
        if (args.Count < 3 || args[2] is not long count || count < 0)
            return old.Length == 0 ? s : s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++)
        {
            int i = s.IndexOf(old, from, StringComparison.Ordinal);
            if (i < 0 || old.Length == 0) break;
            sb.Append(s, from, i - from).Append(replacement);
            from = i + old.Length;
        }
        return sb.Append(s, from, s.Length - from).ToString();
    }

    static int CountOf(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousLetter = false;
        foreach (var c in s)
        {
            sb.Append(previousLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousLetter = char.IsLetter(c);
        }
        return sb.ToString();
    }

    List<object?> Range(List<object?> args)
    {
        var n = args.Select(a => a is long l ? l : throw new JinjaException("range() takes integers")).ToArray();
        var (start, stop, step) = n.Length switch
        {
            1 => (0L, n[0], 1L),
            2 => (n[0], n[1], 1L),
            3 => (n[0], n[1], n[2]),
            _ => throw new JinjaException("range() takes 1 to 3 arguments"),
        };
        if (step == 0) throw new JinjaException("range() step cannot be zero");
        var list = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i = checked(i + step))
        {
            budget.Iteration();
            list.Add(i);
            if (list.Count > 100_000) throw new JinjaException("range() is too long");
        }
        return list;
    }

    /// <summary>Python's strftime for the directives templates use (day, month, year, weekday, time).</summary>
    static string Strftime(DateTime t, string format)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length) { sb.Append(format[i]); continue; }
            var c = CultureInfo.InvariantCulture;
            sb.Append(format[++i] switch
            {
                'd' => t.ToString("dd", c),
                'm' => t.ToString("MM", c),
                'Y' => t.ToString("yyyy", c),
                'y' => t.ToString("yy", c),
                'b' => t.ToString("MMM", c),
                'B' => t.ToString("MMMM", c),
                'a' => t.ToString("ddd", c),
                'A' => t.ToString("dddd", c),
                'H' => t.ToString("HH", c),
                'I' => t.ToString("hh", c),
                'M' => t.ToString("mm", c),
                'S' => t.ToString("ss", c),
                'p' => t.ToString("tt", c),
                'j' => t.DayOfYear.ToString("000", c),
                '%' => "%",
                var other => throw new JinjaException($"strftime_now: the directive %{other} is not supported"),
            });
        }
        return sb.ToString();
    }
}
