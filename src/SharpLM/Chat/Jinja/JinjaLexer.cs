using System.Globalization;
using System.Text;

namespace SharpLM.Chat.Jinja;

enum SegmentKind { Text, Output, Statement }

/// <summary>A piece of the template: literal text, the inside of <c>{{ }}</c>, or the inside of <c>{% %}</c>.</summary>
sealed record Segment(SegmentKind Kind, string Source, int Line);

enum TokenKind { Name, String, Integer, Float, Operator, End }

sealed record Token(TokenKind Kind, string Text, int Line)
{
    public object? Value { get; init; }

    public bool Is(string text) => Kind is TokenKind.Operator or TokenKind.Name && Text == text;

    public override string ToString() => Kind == TokenKind.End ? "the end of the tag" : $"'{Text}'";
}

/// <summary>
/// Splits a template into segments with Jinja's whitespace rules as Hugging Face configures them: <c>-</c> inside a
/// tag strips all whitespace on that side; <c>trim_blocks</c> removes the first newline after a <c>{% %}</c> or
/// <c>{# #}</c> tag; <c>lstrip_blocks</c> removes spaces and tabs before such a tag at the start of a line
/// (unless written <c>{%+</c>). Comments are dropped. Then splits each tag into tokens.
/// </summary>
static class JinjaLexer
{
    public static List<Segment> Split(string template)
    {
        var segments = new List<Segment>();
        var lines = new LineCounter(template);
        int pos = 0;
        bool lineStarting = true; // whether the text before the next tag starts at the beginning of a line
        bool stripWhitespace = false, trimNewline = false; // what the previous tag's end asks of the next text
        while (pos < template.Length)
        {
            int open = NextTag(template, pos);
            string text = template[pos..(open < 0 ? template.Length : open)];
            if (stripWhitespace)
            {
                var stripped = text.TrimStart();
                lineStarting = text[..(text.Length - stripped.Length)].EndsWith('\n');
                text = stripped;
            }
            else if (trimNewline && (text.StartsWith('\n') || text.StartsWith("\r\n")))
            {
                text = text[(text[0] == '\r' ? 2 : 1)..];
                lineStarting = true;
            }
            if (open < 0)
            {
                Add(segments, text, lines.At(pos));
                break;
            }
            char kind = template[open + 1];
            string close = kind switch { '{' => "}}", '%' => "%}", _ => "#}" };
            int line = lines.At(open);
            int inner = open + 2;
            bool leftStrip = inner < template.Length && template[inner] == '-';
            bool leftKeep = inner < template.Length && template[inner] == '+';
            if (leftStrip || leftKeep) inner++;
            int end = kind == '{' ? FindOutputEnd(template, inner, line) : template.IndexOf(close, inner, StringComparison.Ordinal);
            if (end < 0) throw new JinjaException($"line {line}: '{template.Substring(open, 2)}' is never closed with '{close}'");
            bool rightStrip = end > inner && template[end - 1] == '-';

            if (leftStrip) text = text.TrimEnd();
            else if (kind != '{' && !leftKeep)
            {
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && text.AsSpan(lineStart).Trim(" \t").IsEmpty) text = text[..lineStart];
            }
            Add(segments, text, lines.At(pos));
            string source = template[inner..(rightStrip ? end - 1 : end)];
            if (kind == '{') segments.Add(new Segment(SegmentKind.Output, source, line));
            else if (kind == '%') segments.Add(new Segment(SegmentKind.Statement, source, line));
            stripWhitespace = rightStrip;
            trimNewline = kind != '{';
            lineStarting = false;
            pos = end + 2;
        }
        return segments;
    }

    static void Add(List<Segment> segments, string text, int line)
    {
        if (text.Length > 0) segments.Add(new Segment(SegmentKind.Text, text, line));
    }

    /// <summary>Line numbers of positions asked for roughly in order, counted from the last one asked: counting from
    /// the start each time would make a template of many tags take quadratic time to split.</summary>
    sealed class LineCounter(string text)
    {
        int at, line = 1;

        public int At(int index)
        {
            index = Math.Min(index, text.Length);
            line += index >= at ? text.AsSpan(at, index - at).Count('\n') : -text.AsSpan(index, at - index).Count('\n');
            at = index;
            return line;
        }
    }

    static int NextTag(string s, int from)
    {
        for (int i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
            if (s[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>The "}}" that ends an output tag, skipping any inside string literals and dict braces.</summary>
    static int FindOutputEnd(string s, int from, int line)
    {
        int depth = 0;
        for (int i = from; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '\'' or '"')
            {
                int close = i + 1;
                while (close < s.Length && s[close] != c) close += s[close] == '\\' ? 2 : 1;
                if (close >= s.Length) throw new JinjaException($"line {line}: a string literal is never closed");
                i = close;
            }
            else if (c == '{') depth++;
            else if (c == '}' && depth > 0) depth--;
            else if (c == '}' && i + 1 < s.Length && s[i + 1] == '}') return i;
        }
        return -1;
    }

    static readonly string[] Operators =
        ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}", "<", ">", "="];

    /// <summary>The tokens of one tag's inside.</summary>
    public static List<Token> Tokenize(string source, int line)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (i < source.Length)
        {
            char c = source[i];
            if (char.IsWhiteSpace(c))
            {
                if (c == '\n') line++;
                i++;
            }
            else if (char.IsLetter(c) || c == '_')
            {
                int start = i;
                while (i < source.Length && (char.IsLetterOrDigit(source[i]) || source[i] == '_')) i++;
                tokens.Add(new Token(TokenKind.Name, source[start..i], line));
            }
            else if (char.IsDigit(c))
            {
                int start = i;
                while (i < source.Length && (char.IsDigit(source[i]) || source[i] == '_')) i++;
                bool isFloat = i + 1 < source.Length && source[i] == '.' && char.IsDigit(source[i + 1]);
                if (isFloat)
                {
                    i++;
                    while (i < source.Length && char.IsDigit(source[i])) i++;
                }
                var text = source[start..i].Replace("_", "");
                tokens.Add(isFloat
                    ? new Token(TokenKind.Float, text, line) { Value = double.Parse(text, CultureInfo.InvariantCulture) }
                    : new Token(TokenKind.Integer, text, line) { Value = long.TryParse(text, CultureInfo.InvariantCulture, out var n) ? n
                        : throw new JinjaException(
                            $"line {line}: the integer {(text.Length > 30 ? text[..30] + "..." : text)} does not fit in 64 bits") });
            }
            else if (c is '\'' or '"')
            {
                var (value, next) = ReadString(source, i, line);
                tokens.Add(new Token(TokenKind.String, source[i..next], line) { Value = value });
                i = next;
            }
            else
            {
                var op = Operators.FirstOrDefault(o => string.CompareOrdinal(source, i, o, 0, o.Length) == 0)
                    ?? throw new JinjaException($"line {line}: unexpected character '{c}'");
                tokens.Add(new Token(TokenKind.Operator, op, line));
                i += op.Length;
            }
        }
        tokens.Add(new Token(TokenKind.End, "", line));
        return tokens;
    }

    static (string Value, int Next) ReadString(string s, int start, int line)
    {
        char quote = s[start];
        var sb = new StringBuilder();
        for (int i = start + 1; i < s.Length; i++)
        {
            char c = s[i];
            if (c == quote) return (sb.ToString(), i + 1);
            if (c != '\\' || i + 1 >= s.Length) { sb.Append(c); continue; }
            char e = s[++i];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'u' when i + 4 < s.Length:
                    sb.Append((char)int.Parse(s.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                default: sb.Append('\\').Append(e); break; // Python keeps unknown escapes as written
            }
        }
        throw new JinjaException($"line {line}: a string literal is never closed");
    }
}
