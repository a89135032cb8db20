using System.Text;
using static SharpLM.Chat.Jinja.JinjaValues;

namespace SharpLM.Chat.Jinja;

/// <summary>Variables visible at one point of the template. A for loop's body gets a scope of its own on each
/// pass, so <c>set</c> inside a loop does not leak out of it (that is what <c>namespace()</c> is for).</summary>
sealed class Scope(Scope? parent)
{
    readonly Dictionary<string, object?> variables = [];
    readonly Scope? parent = parent;

    public object? Get(string name)
    {
        for (var s = this; s is not null; s = s.parent)
            if (s.variables.TryGetValue(name, out var value)) return value;
        return new Undefined(name);
    }

    public void Set(string name, object? value) => variables[name] = value;
}

/// <summary>Runs parsed statements and evaluates expressions with Python's Jinja semantics, within the
/// <see cref="RenderBudget"/> of the render.</summary>
sealed class JinjaRenderer(JinjaBuiltins builtins, RenderBudget budget)
{
    enum Flow { Normal, Break, Continue }

    public void Render(List<Node> nodes, Scope scope, StringBuilder output) => Run(nodes, scope, output);

    Flow Run(List<Node> nodes, Scope scope, StringBuilder output)
    {
        budget.Enter();
        try
        {
            return RunNodes(nodes, scope, output);
        }
        finally
        {
            budget.Leave();
        }
    }

    Flow RunNodes(List<Node> nodes, Scope scope, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            var flow = node switch
            {
                TextNode t => Append(output, t.Text),
                OutputNode o => Append(output, Text(Evaluate(o.Value, scope))),
                IfNode i => If(i, scope, output),
                ForNode f => For(f, scope, output),
                SetNode s => Set(s, scope),
                SetBlockNode b => SetBlock(b, scope),
                MacroNode m => DefineMacro(m, scope),
                LoopControlNode c => c.Break ? Flow.Break : Flow.Continue,
                _ => throw new InvalidOperationException(node.GetType().Name),
            };
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    string Text(object? v) => Str(v, budget.MaxChars);

    Flow Append(StringBuilder output, string text)
    {
        budget.Size((long)output.Length + text.Length, "the rendered text");
        output.Append(text);
        return Flow.Normal;
    }

    Flow If(IfNode node, Scope scope, StringBuilder output)
    {
        foreach (var (condition, body) in node.Branches)
            if (Truthy(Evaluate(condition, scope))) return Run(body, scope, output);
        return Run(node.Else, scope, output);
    }

    Flow For(ForNode node, Scope scope, StringBuilder output)
    {
        var items = Iterate(Evaluate(node.Items, scope));
        if (node.Filter is not null)
            items = items.Where(item =>
            {
                budget.Iteration();
                return Truthy(Evaluate(node.Filter, Bind(node, item, scope, null)));
            }).ToList();
        if (items.Count == 0) return Run(node.Else, scope, output);
        for (int i = 0; i < items.Count; i++)
        {
            budget.Iteration();
            var loop = new Dictionary<string, object?>
            {
                ["index"] = (long)i + 1, ["index0"] = (long)i, ["revindex"] = (long)(items.Count - i), ["revindex0"] = (long)(items.Count - i - 1),
                ["first"] = i == 0, ["last"] = i == items.Count - 1, ["length"] = (long)items.Count,
                ["previtem"] = i > 0 ? items[i - 1] : new Undefined("loop.previtem"),
                ["nextitem"] = i + 1 < items.Count ? items[i + 1] : new Undefined("loop.nextitem"),
            };
            if (Run(node.Body, Bind(node, items[i], scope, loop), output) == Flow.Break) break;
        }
        return Flow.Normal;
    }

    static Scope Bind(ForNode node, object? item, Scope parent, Dictionary<string, object?>? loop)
    {
        var scope = new Scope(parent);
        if (loop is not null) scope.Set("loop", loop);
        if (node.Targets.Count == 1)
        {
            scope.Set(node.Targets[0], item);
            return scope;
        }
        if (item is not List<object?> parts || parts.Count != node.Targets.Count)
            throw new JinjaException($"line {node.Line}: cannot unpack {TypeName(item)} into {node.Targets.Count} names");
        for (int i = 0; i < parts.Count; i++) scope.Set(node.Targets[i], parts[i]);
        return scope;
    }

    Flow Set(SetNode node, Scope scope)
    {
        var value = Evaluate(node.Value, scope);
        switch (node.Target)
        {
            case NameExpr name: scope.Set(name.Name, value); break;
            case AttributeExpr { Target: NameExpr owner } attribute:
                if (scope.Get(owner.Name) is not Namespace ns)
                    throw new JinjaException($"line {node.Line}: can only set attributes of a namespace(), and '{owner.Name}' is not one");
                ns.Attributes[attribute.Name] = value;
                break;
        }
        return Flow.Normal;
    }

    Flow SetBlock(SetBlockNode node, Scope scope)
    {
        var text = new StringBuilder();
        Run(node.Body, scope, text);
        scope.Set(node.Name, text.ToString());
        return Flow.Normal;
    }

    /// <summary>A macro becomes a function that renders its body with its parameters bound, in a scope of its own
    /// under the one it was defined in, and returns the text.</summary>
    Flow DefineMacro(MacroNode node, Scope scope)
    {
        scope.Set(node.Name, (JinjaCallable)((args, kwargs) =>
        {
            if (args.Count > node.Parameters.Count)
                throw new JinjaException($"line {node.Line}: macro '{node.Name}' takes {node.Parameters.Count} arguments, got {args.Count}");
            var local = new Scope(scope);
            for (int i = 0; i < node.Parameters.Count; i++)
            {
                var (name, fallback) = node.Parameters[i];
                object? value = i < args.Count ? args[i]
                    : kwargs.TryGetValue(name, out var named) ? named
                    : fallback is not null ? Evaluate(fallback, scope)
                    : new Undefined(name);
                local.Set(name, value);
            }
            foreach (var unknown in kwargs.Keys.Where(k => node.Parameters.All(p => p.Name != k)))
                throw new JinjaException($"line {node.Line}: macro '{node.Name}' has no parameter '{unknown}'");
            var text = new StringBuilder();
            Run(node.Body, local, text); // Run counts the call's depth, so recursion ends at the limit
            return text.ToString();
        }));
        return Flow.Normal;
    }

    public object? Evaluate(Expr expr, Scope scope)
    {
        budget.Enter();
        try
        {
            var value = expr switch
            {
                LiteralExpr l => l.Value,
                NameExpr n => scope.Get(n.Name),
                ListExpr l => l.Items.Select(i => Evaluate(i, scope)).ToList(),
                DictExpr d => d.Items.ToDictionary(
                    i => Evaluate(i.Key, scope) as string ?? throw new JinjaException("dict keys must be strings"),
                    i => Evaluate(i.Value, scope)),
                AttributeExpr a => builtins.GetAttribute(Evaluate(a.Target, scope), a.Name, Describe(a.Target)),
                IndexExpr i => builtins.GetItem(Evaluate(i.Target, scope), Evaluate(i.Key, scope), Describe(i.Target)),
                SliceExpr s => Slice(Evaluate(s.Target, scope), Optional(s.Start, scope), Optional(s.Stop, scope), Optional(s.Step, scope)),
                CallExpr c => Call(Evaluate(c.Callee, scope), c.Args, scope, Describe(c.Callee)),
                FilterExpr f => builtins.Filter(f.Name, Evaluate(f.Target, scope), Positional(f.Args, scope), Named(f.Args, scope)),
                TestExpr t => builtins.Test(t.Name, Evaluate(t.Target, scope), Positional(t.Args, scope)) != t.Negated,
                UnaryExpr u => Unary(u.Op, Evaluate(u.Operand, scope)),
                BinaryExpr b => Binary(b, scope),
                ConditionalExpr c => Truthy(Evaluate(c.Condition, scope))
                    ? Evaluate(c.Then, scope)
                    : c.Else is null ? new Undefined("else") : Evaluate(c.Else, scope),
                _ => throw new InvalidOperationException(expr.GetType().Name),
            };
            // Every value a template makes is bounded, so no later step copies a runaway one; what operations build
            // (not what names and subscripts read) counts towards the render's total.
            bool builds = expr is BinaryExpr or FilterExpr or CallExpr;
            if (value is string text)
            {
                budget.Size(text.Length, "a string");
                if (builds) budget.Built(text.Length);
            }
            else if (value is List<object?> list)
            {
                budget.Size(list.Count, "a list");
                if (builds) budget.Built(list.Count);
            }
            return value;
        }
        catch (JinjaLimitException e) when (!e.Message.StartsWith("line ", StringComparison.Ordinal))
        {
            throw new JinjaLimitException($"line {expr.Line}: {e.Message}");
        }
        catch (JinjaException e)
            when (!e.Message.StartsWith("line ", StringComparison.Ordinal) && e is not RaisedException and not JinjaLimitException)
        {
            throw new JinjaException($"line {expr.Line}: {e.Message}");
        }
        catch (OverflowException)
        {
            throw new JinjaException($"line {expr.Line}: integer overflow: the result does not fit in 64 bits");
        }
        finally
        {
            budget.Leave();
        }
    }

    static string Describe(Expr e) => e switch
    {
        NameExpr n => n.Name,
        AttributeExpr a => Describe(a.Target) + "." + a.Name,
        IndexExpr i => Describe(i.Target) + "[...]",
        _ => "value",
    };

    long? Optional(Expr? e, Scope scope) => e is null ? null : Evaluate(e, scope) switch
    {
        long l => l,
        null => null,
        var v => throw new JinjaException($"slice bounds must be integers, not {TypeName(v)}"),
    };

    List<object?> Positional(Arguments args, Scope scope) => args.Positional.Select(a => Evaluate(a, scope)).ToList();

    Dictionary<string, object?> Named(Arguments args, Scope scope) => args.Named.ToDictionary(a => a.Name, a => Evaluate(a.Value, scope));

    object? Call(object? callee, Arguments args, Scope scope, string name) => callee switch
    {
        JinjaCallable f => f(Positional(args, scope), Named(args, scope)),
        Undefined => throw new JinjaException($"'{name}' is undefined and cannot be called"),
        _ => throw new JinjaException($"'{name}' is {Article(callee)}, not a function"),
    };

    static object? Slice(object? target, long? start, long? stop, long? step)
    {
        // A string without surrogate pairs is sliced by its chars, sparing a list of its code points.
        string? chars = target is string t && !t.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF') ? t : null;
        var items = chars is not null ? null : target switch
        {
            List<object?> l => l,
            string s => StringElements(s),
            _ => throw new JinjaException($"{Article(target)} cannot be sliced"),
        };
        long n = chars?.Length ?? items!.Count, by = step ?? 1;
        if (by == 0) throw new JinjaException("slice step cannot be zero");
        long Clamp(long? v, long fallback, long low, long high) => v is not { } x ? fallback : Math.Clamp(x < 0 ? x + n : x, low, high);
        var picked = new List<int>();
        // Each step moves to the end at most, so a step near long.MaxValue cannot overflow the index.
        if (by > 0)
            for (long i = Clamp(start, 0, 0, n), end = Clamp(stop, n, 0, n); i < end; i = by < end - i ? i + by : end) picked.Add((int)i);
        else
            for (long i = Clamp(start, n - 1, -1, n - 1), end = Clamp(stop, -1, -1, n - 1); i > end; i = by > end - i ? i + by : end)
                picked.Add((int)i);
        if (chars is not null) return string.Create(picked.Count, (chars, picked), (span, c) =>
        {
            for (int k = 0; k < span.Length; k++) span[k] = c.chars[c.picked[k]];
        });
        return target is string ? string.Concat(picked.Select(i => (string)items![i]!)) : picked.Select(i => items![i]).ToList();
    }

    static object? Unary(string op, object? value) => op switch
    {
        "not" => !Truthy(value),
        "-" => value switch { long l => (object)checked(-l), double d => -d, _ => throw new JinjaException($"cannot negate {Article(value)}") },
        _ => value is long or double ? value : throw new JinjaException($"unary + needs a number, not {Article(value)}"),
    };

    object? Binary(BinaryExpr b, Scope scope)
    {
        var left = Evaluate(b.Left, scope);
        switch (b.Op)
        {
            case "and": return Truthy(left) ? Evaluate(b.Right, scope) : left;
            case "or": return Truthy(left) ? left : Evaluate(b.Right, scope);
        }
        var right = Evaluate(b.Right, scope);
        return b.Op switch
        {
            "==" => JinjaValues.Equals(left, right),
            "!=" => !JinjaValues.Equals(left, right),
            "<" => Compare(left, right) < 0,
            "<=" => Compare(left, right) <= 0,
            ">" => Compare(left, right) > 0,
            ">=" => Compare(left, right) >= 0,
            "in" => JinjaBuiltins.Contains(right, left),
            "not in" => !JinjaBuiltins.Contains(right, left),
            "~" => Concat(Text(left), Text(right)),
            "+" => Add(left, right),
            _ => Arithmetic(b.Op, left, right),
        };
    }

    static int Compare(object? a, object? b) => (a, b) switch
    {
        (string x, string y) => string.CompareOrdinal(x, y),
        (long or double or bool, long or double or bool) => ToDouble(a).CompareTo(ToDouble(b)),
        _ => throw new JinjaException($"cannot compare {Article(a)} with {Article(b)}"),
    };

    string Concat(string x, string y)
    {
        budget.Size((long)x.Length + y.Length, "a string");
        return x + y;
    }

    List<object?> ConcatLists(List<object?> x, List<object?> y)
    {
        budget.Size((long)x.Count + y.Count, "a list");
        return [.. x, .. y];
    }

    object? Add(object? a, object? b) => (a, b) switch
    {
        (string x, string y) => Concat(x, y),
        (List<object?> x, List<object?> y) => ConcatLists(x, y),
        (long x, long y) => (object)checked(x + y), // (object): a switch of long and double arms would make every result a double
        (long or double, long or double) => ToDouble(a) + ToDouble(b),
        (Undefined u, _) => throw new JinjaException($"'{u.Name}' is undefined"),
        (_, Undefined u) => throw new JinjaException($"'{u.Name}' is undefined"),
        _ => throw new JinjaException($"cannot add {Article(a)} and {Article(b)}"),
    };

    /// <summary>- * / // % ** with Python's meaning; integer results that do not fit in 64 bits throw
    /// <see cref="OverflowException"/>, which <see cref="Evaluate"/> reports.</summary>
    object? Arithmetic(string op, object? a, object? b)
    {
        if (op == "*" && a is string s && b is long times)
        {
            if (times <= 0 || s.Length == 0) return "";
            budget.Size(times > budget.MaxChars ? long.MaxValue : s.Length * times, "a repeated string");
            return string.Create((int)(s.Length * times), s, (span, text) =>
            {
                for (int i = 0; i < span.Length; i += text.Length) text.AsSpan().CopyTo(span[i..]);
            });
        }
        if (a is long x && b is long y && op != "/")
        {
            if (y == 0 && op is "//" or "%") throw new JinjaException("division by zero");
            return op switch
            {
                "-" => checked(x - y),
                "*" => checked(x * y),
                "//" => FloorDivide(x, y),
                "%" => y == -1 ? 0L : Modulo(x, y),
                _ => Power(x, y),
            };
        }
        double p = ToDouble(a), q = ToDouble(b);
        return op switch
        {
            "-" => p - q,
            "*" => p * q,
            "/" => q == 0 ? throw new JinjaException("division by zero") : p / q,
            "//" => Math.Floor(p / q),
            "%" => p - q * Math.Floor(p / q),
            _ => Math.Pow(p, q),
        };
    }

    // Python rounds integer division down and gives the remainder the divisor's sign.
    static long FloorDivide(long x, long y)
    {
        long q = checked(x / y); // long.MinValue / -1 overflows
        return x % y != 0 && (x < 0) != (y < 0) ? q - 1 : q;
    }

    static long Modulo(long x, long y)
    {
        long r = x % y;
        return r != 0 && (r < 0) != (y < 0) ? r + y : r;
    }

    /// <summary>x ** y exactly for integers (a negative exponent gives a float, as in Python).</summary>
    static object Power(long x, long y)
    {
        if (y < 0) return Math.Pow(x, y);
        long result = 1;
        for (long b = x; y > 0; y >>= 1)
        {
            if ((y & 1) != 0) result = checked(result * b);
            if (y > 1) b = checked(b * b);
        }
        return result;
    }
}

/// <summary>What <c>raise_exception(message)</c> throws: the template's own refusal, passed on word for word.</summary>
sealed class RaisedException(string message) : JinjaException(message);
