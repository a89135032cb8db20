using System.Text;

namespace SharpLM.Chat.Jinja;

/// <summary>
/// Parses the segments of a template into statements and expressions, with Jinja's operator precedence (lowest
/// first): <c>x if c else y</c>, <c>or</c>, <c>and</c>, <c>not</c>, comparisons and <c>in</c>, <c>+ -</c>,
/// <c>~</c>, <c>* / // %</c>, <c>**</c>, unary <c>-</c>, then filters (<c>|</c>) and tests (<c>is</c>) on a
/// primary with its attributes, subscripts and calls. Statements: if/elif/else, for (with a filter, tuple targets
/// and else), set (names, namespace attributes and blocks), macro, break, continue, and Hugging Face's generation blocks.
/// </summary>
sealed class JinjaParser
{
    readonly List<Segment> segments;
    readonly int maxDepth;
    int next;
    List<Token> tokens = [];
    int at;
    int depth;

    JinjaParser(List<Segment> segments, int maxDepth) => (this.segments, this.maxDepth) = (segments, maxDepth);

    public static List<Node> Parse(string template, int maxDepth)
    {
        var parser = new JinjaParser(JinjaLexer.Split(template), maxDepth);
        var (body, endTag) = parser.Block();
        if (endTag is not null) throw new JinjaException($"line {parser.segments[parser.next - 1].Line}: '{endTag}' without a block to end");
        return body;
    }

    /// <summary>Statements up to the next block-ending tag (endif, else, endfor...), which is returned unconsumed in
    /// <see cref="tokens"/>; null at the end of the template.</summary>
    (List<Node> Body, string? EndTag) Block() => Nested(BlockBody);

    /// <summary>Runs one recursive step of the parser one level deeper: templates nested past the depth limit are
    /// refused with an error instead of overflowing the stack.</summary>
    T Nested<T>(Func<T> parse)
    {
        try
        {
            CheckDepth(++depth);
            return parse();
        }
        finally
        {
            depth--;
        }
    }

    void CheckDepth(int level)
    {
        try
        {
            RenderBudget.CheckDepth(level, maxDepth);
        }
        catch (JinjaLimitException e)
        {
            throw new JinjaLimitException($"line {(tokens.Count > 0 ? Peek.Line : segments[Math.Max(0, next - 1)].Line)}: {e.Message}");
        }
    }

    (List<Node> Body, string? EndTag) BlockBody()
    {
        var body = new List<Node>();
        while (next < segments.Count)
        {
            var segment = segments[next++];
            switch (segment.Kind)
            {
                case SegmentKind.Text: body.Add(new TextNode(segment.Source, segment.Line)); break;
                case SegmentKind.Output:
                    Start(segment);
                    body.Add(new OutputNode(Expression(), segment.Line));
                    ExpectEnd();
                    break;
                default:
                    Start(segment);
                    var keyword = Peek.Kind == TokenKind.Name ? Advance().Text : throw Error($"expected a statement name, found {Peek}");
                    switch (keyword)
                    {
                        case "if": body.Add(If(segment.Line)); break;
                        case "for": body.Add(For(segment.Line)); break;
                        case "set": body.Add(Set(segment.Line)); break;
                        case "macro": body.Add(Macro(segment.Line)); break;
                        case "break" or "continue":
                            ExpectEnd();
                            body.Add(new LoopControlNode(keyword == "break", segment.Line));
                            break;
                        case "generation":
                            ExpectEnd();
                            body.AddRange(Until(segment.Line, "generation", "endgeneration").Body);
                            ExpectEnd();
                            break;
                        case "elif" or "else" or "endif" or "endfor" or "endgeneration" or "endset" or "endmacro": return (body, keyword);
                        default: throw Error($"'{keyword}' blocks are not supported (supported: if, for, set, macro, break, continue, generation)");
                    }
                    break;
            }
        }
        return (body, null);
    }

    (List<Node> Body, string EndTag) Until(int line, string opener, params string[] ends)
    {
        var (body, end) = Block();
        if (end is null || !ends.Contains(end))
            throw new JinjaException($"line {line}: '{opener}' is not closed " +
                                     $"(expected {string.Join(" or ", ends)}{(end is null ? ", found the end of the template" : $", found {end}")})");
        return (body, end);
    }

    IfNode If(int line)
    {
        var branches = new List<(Expr, List<Node>)>();
        var condition = Expression();
        ExpectEnd();
        while (true)
        {
            var (body, end) = Until(line, "if", "elif", "else", "endif");
            branches.Add((condition, body));
            if (end == "elif")
            {
                condition = Expression();
                ExpectEnd();
                continue;
            }
            ExpectEnd();
            if (end == "endif") return new IfNode(branches, [], line);
            var (otherwise, _) = Until(line, "if", "endif");
            ExpectEnd();
            return new IfNode(branches, otherwise, line);
        }
    }

    ForNode For(int line)
    {
        var targets = new List<string> { Identifier() };
        while (Accept(",")) targets.Add(Identifier());
        if (!Accept("in")) throw Error($"expected 'in' in the for loop, found {Peek}");
        var items = Conditional(allowConditional: false);
        Expr? filter = Accept("if") ? Or() : null;
        ExpectEnd();
        var (body, end) = Until(line, "for", "else", "endfor");
        ExpectEnd();
        List<Node> otherwise = [];
        if (end == "else")
        {
            otherwise = Until(line, "for", "endfor").Body;
            ExpectEnd();
        }
        return new ForNode(targets, items, filter, body, otherwise, line);
    }

    Node Set(int line)
    {
        var name = Identifier();
        if (Peek.Kind == TokenKind.End)
        {
            // {% set name %}...{% endset %}: the rendered body becomes the value.
            var (block, _) = Until(line, "set", "endset");
            ExpectEnd();
            return new SetBlockNode(name, block, line);
        }
        Expr target = new NameExpr(name, line);
        if (Accept(".")) target = new AttributeExpr(target, Identifier(), line);
        if (!Accept("=")) throw Error($"expected '=' in set, found {Peek}");
        var value = Expression();
        ExpectEnd();
        return new SetNode(target, value, line);
    }

    MacroNode Macro(int line)
    {
        var name = Identifier();
        var parameters = new List<(string, Expr?)>();
        Expect("(");
        while (!Accept(")"))
        {
            var parameter = Identifier();
            parameters.Add((parameter, Accept("=") ? Conditional() : null));
            if (!Peek.Is(")")) Expect(",");
        }
        ExpectEnd();
        var (body, _) = Until(line, "macro", "endmacro");
        ExpectEnd();
        return new MacroNode(name, parameters, body, line);
    }

    // ---- expressions ----

    /// <summary>An expression; a bare comma list (<c>a, b</c>) is a tuple, as in Jinja.</summary>
    Expr Expression()
    {
        var first = Conditional();
        if (!Peek.Is(",")) return first;
        var items = new List<Expr> { first };
        while (Accept(",") && !Peek.Is(")") && Peek.Kind != TokenKind.End) items.Add(Conditional());
        return new ListExpr(items, first.Line);
    }

    Expr Conditional(bool allowConditional = true) => Nested(() => ConditionalBody(allowConditional));

    Expr ConditionalBody(bool allowConditional)
    {
        var value = Or();
        if (!allowConditional || !Accept("if")) return value;
        var condition = Or();
        Expr? otherwise = Accept("else") ? Conditional() : null;
        return new ConditionalExpr(value, condition, otherwise, value.Line);
    }

    Expr Or()
    {
        var left = And();
        while (Accept("or")) left = new BinaryExpr("or", left, And(), left.Line);
        return left;
    }

    Expr And()
    {
        var left = Not();
        while (Accept("and")) left = new BinaryExpr("and", left, Not(), left.Line);
        return left;
    }

    Expr Not()
    {
        if (!Peek.Is("not")) return Compare();
        var not = Advance();
        return new UnaryExpr("not", Nested(Not), not.Line);
    }

    Expr Compare()
    {
        var left = Sum();
        while (true)
        {
            if (Peek.Kind == TokenKind.Operator && Peek.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
                left = new BinaryExpr(Advance().Text, left, Sum(), left.Line);
            else if (Accept("in")) left = new BinaryExpr("in", left, Sum(), left.Line);
            else if (Peek.Is("not") && tokens[at + 1].Is("in"))
            {
                at += 2;
                left = new BinaryExpr("not in", left, Sum(), left.Line);
            }
            else return left;
        }
    }

    Expr Sum()
    {
        var left = Concat();
        while (Peek.Kind == TokenKind.Operator && Peek.Text is "+" or "-") left = new BinaryExpr(Advance().Text, left, Concat(), left.Line);
        return left;
    }

    Expr Concat()
    {
        var left = Product();
        while (Accept("~")) left = new BinaryExpr("~", left, Product(), left.Line);
        return left;
    }

    Expr Product()
    {
        var left = Power();
        while (Peek.Kind == TokenKind.Operator && Peek.Text is "*" or "/" or "//" or "%")
            left = new BinaryExpr(Advance().Text, left, Power(), left.Line);
        return left;
    }

    Expr Power()
    {
        var left = Unary();
        while (Accept("**")) left = new BinaryExpr("**", left, Unary(), left.Line);
        return left;
    }

    Expr Unary()
    {
        if (Peek.Kind == TokenKind.Operator && Peek.Text is "-" or "+")
        {
            var op = Advance();
            return new UnaryExpr(op.Text, Nested(Unary), op.Line);
        }
        return FiltersAndTests(Postfix(Primary()));
    }

    Expr FiltersAndTests(Expr value)
    {
        while (true)
        {
            if (Accept("|"))
            {
                var name = Identifier();
                value = new FilterExpr(value, name, Peek.Is("(") ? CallArguments() : new Arguments([], []), value.Line);
            }
            else if (Accept("is"))
            {
                bool negated = Accept("not");
                var name = Identifier();
                Arguments args;
                if (Peek.Is("(")) args = CallArguments();
                else if (Peek.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float) args = new Arguments([Primary()], []);
                else args = new Arguments([], []);
                value = new TestExpr(value, name, args, negated, value.Line);
            }
            else return value;
        }
    }

    Expr Postfix(Expr value)
    {
        while (true)
        {
            if (Accept(".")) value = new AttributeExpr(value, Identifier(), value.Line);
            else if (Peek.Is("(")) value = new CallExpr(value, CallArguments(), value.Line);
            else if (Accept("[")) value = Subscript(value);
            else return value;
        }
    }

    Expr Subscript(Expr target)
    {
        Expr? start = Peek.Is(":") ? null : Expression();
        if (Accept("]")) return new IndexExpr(target, start!, target.Line);
        Expect(":");
        Expr? stop = Peek.Is(":") || Peek.Is("]") ? null : Conditional();
        Expr? step = Accept(":") && !Peek.Is("]") ? Conditional() : null;
        Expect("]");
        return new SliceExpr(target, start, stop, step, target.Line);
    }

    Arguments CallArguments()
    {
        Expect("(");
        var args = new Arguments([], []);
        while (!Accept(")"))
        {
            if (Peek.Kind == TokenKind.Name && tokens[at + 1].Is("="))
            {
                var name = Advance().Text;
                at++;
                args.Named.Add((name, Conditional()));
            }
            else args.Positional.Add(Conditional());
            if (!Peek.Is(")")) Expect(",");
        }
        return args;
    }

    Expr Primary()
    {
        var token = Advance();
        switch (token.Kind)
        {
            case TokenKind.String:
                // Adjacent string literals join, as in Python.
                var text = new StringBuilder((string)token.Value!);
                while (Peek.Kind == TokenKind.String) text.Append((string)Advance().Value!);
                return new LiteralExpr(text.ToString(), token.Line);
            case TokenKind.Integer or TokenKind.Float: return new LiteralExpr(token.Value, token.Line);
            case TokenKind.Name:
                return token.Text switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Line),
                    "false" or "False" => new LiteralExpr(false, token.Line),
                    "none" or "None" => new LiteralExpr(null, token.Line),
                    _ => new NameExpr(token.Text, token.Line),
                };
        }
        if (token.Is("("))
        {
            if (Accept(")")) return new ListExpr([], token.Line);
            var inner = Expression();
            Expect(")");
            return inner;
        }
        if (token.Is("["))
        {
            var items = new List<Expr>();
            while (!Accept("]"))
            {
                items.Add(Conditional());
                if (!Peek.Is("]")) Expect(",");
            }
            return new ListExpr(items, token.Line);
        }
        if (token.Is("{"))
        {
            var items = new List<(Expr, Expr)>();
            while (!Accept("}"))
            {
                var key = Conditional();
                Expect(":");
                items.Add((key, Conditional()));
                if (!Peek.Is("}")) Expect(",");
            }
            return new DictExpr(items, token.Line);
        }
        throw Error($"unexpected {token}");
    }

    // ---- tokens ----

    void Start(Segment segment)
    {
        tokens = JinjaLexer.Tokenize(segment.Source, segment.Line);
        at = 0;
    }

    Token Peek => tokens[at];

    Token Advance() => tokens[at].Kind == TokenKind.End ? throw Error("the tag ends too early") : tokens[at++];

    bool Accept(string text)
    {
        if (!Peek.Is(text)) return false;
        at++;
        return true;
    }

    void Expect(string text)
    {
        if (!Accept(text)) throw Error($"expected '{text}', found {Peek}");
    }

    string Identifier() => Peek.Kind == TokenKind.Name ? Advance().Text : throw Error($"expected a name, found {Peek}");

    void ExpectEnd()
    {
        if (Peek.Kind != TokenKind.End) throw Error($"unexpected {Peek}");
    }

    JinjaException Error(string message) => new($"line {Peek.Line}: {message}");
}
