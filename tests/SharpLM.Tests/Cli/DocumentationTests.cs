using System.CommandLine;
using System.Text;
using System.Text.RegularExpressions;
using SharpLM.Cli;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>The documentation does not drift from the code: every error message it quotes is still one the code
/// raises, and every `sharplm` command line it shows uses commands and options that exist.</summary>
public sealed partial class DocumentationTests
{
    static readonly string Root = Repository.Root;

    static IEnumerable<string> Documents() =>
        Directory.GetFiles(Path.Combine(Root, "docs"), "*.md")
            .Append(Path.Combine(Root, "README.md"))
            .Append(Path.Combine(Root, "data", "README.md"));

    /// <summary>Quoted errors: code spans that start as SharpLM's messages do for the docs' example folder `m`.</summary>
    public static TheoryData<string, string> QuotedErrors()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Documents())
            foreach (Match m in CodeSpan().Matches(File.ReadAllText(file)))
                if (m.Groups[1].Value is var quote && (quote.StartsWith("m/") || quote.StartsWith("m: ")))
                    data.Add(Path.GetFileName(file), quote);
        return data;
    }

    [Theory]
    [MemberData(nameof(QuotedErrors))]
    public void EveryQuotedErrorIsStillRaisedByTheCode(string document, string quote)
    {
        var templates = SourceStrings.Value;
        Assert.True(templates.Any(t => Explains(t, quote)), $"{document} quotes an error no source string produces: {quote}");
    }

    [Fact]
    public void TheDocumentsQuoteErrors() => Assert.True(QuotedErrors().Count() >= 8); // the table in bring-your-own-model.md

    /// <summary>Command lines in code blocks: `./sharplm ...` or `sharplm ...`, continuation lines joined.</summary>
    public static TheoryData<string, string> CommandLines()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Documents().Append(Path.Combine(Root, "demo.sh")).Append(Path.Combine(Root, "demo-finetune.sh")))
        {
            var text = Regex.Replace(File.ReadAllText(file), @"\\\r?\n\s*", " ");
            foreach (var line in text.Split('\n'))
            {
                var trimmed = line.Trim().TrimStart('$', ' ');
                if (trimmed.StartsWith("./sharplm ") || trimmed.StartsWith("sharplm "))
                    data.Add(Path.GetFileName(file), trimmed);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CommandLines))]
    public void EveryDocumentedCommandLineUsesRealCommandsAndOptions(string document, string line)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .TakeWhile(w => w is not ("#" or "|" or ">" or "&&" or "2>/dev/null")).ToList();
        Command command = CliRoot.Create();
        int i = 0;
        for (; i < words.Count && command.Subcommands.FirstOrDefault(c => c.Name == words[i]) is { } sub; i++) command = sub;
        Assert.True(command.Subcommands.Count == 0 || words.Skip(i).Any(w => w is "--help" or "-h"),
            $"{document}: `{line}` names no command of `{command.Name}`");
        var known = command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).ToHashSet();
        foreach (var flag in words.Skip(i).Where(w => w.StartsWith("--") && !w.Contains('$')).Select(w => w.Split('=')[0]))
            Assert.True(known.Contains(flag), $"{document}: `{line}` uses {flag}, which `{command.Name}` does not have");
    }

    [Fact]
    public void TheDocumentsShowCommandLines() => Assert.True(CommandLines().Count() >= 20);

    /// <summary>Whether a source string (literal parts and {holes}) could have produced the quote: its literal parts
    /// appear in the quote in order, up to where the quote is cut short with "...".</summary>
    static bool Explains(string template, string quote)
    {
        int cut = quote.IndexOf("...", StringComparison.Ordinal);
        var quoted = cut < 0 ? quote : quote[..cut];
        var parts = template.Split('\u0001').Where(p => p.Trim().Length > 0).ToList();
        int position = 0, matched = 0;
        foreach (var part in parts)
        {
            int at = quoted.IndexOf(part, position, StringComparison.Ordinal);
            if (at < 0)
            {
                // A part the cut-off quote does not reach yet is fine; one it should contain is not.
                if (cut >= 0 && quoted.Length - position < part.Length + 40) break;
                return false;
            }
            position = at + part.Length;
            matched += part.Trim().Length;
        }
        return matched >= Math.Min(20, quoted.Length / 2);
    }

    static readonly Lazy<List<string>> SourceStrings = new(() => Directory
        .EnumerateFiles(Path.Combine(Root, "src"), "*.cs", SearchOption.AllDirectories)
        .Where(f => !f.Contains("/obj/") && !f.Contains("/bin/"))
        .SelectMany(f => CSharpStrings.Read(File.ReadAllText(f))).ToList());

    [GeneratedRegex("`([^`\n]+)`")]
    private static partial Regex CodeSpan();
}

/// <summary>The string literals of C# source, adjacent ones joined by + taken as one, interpolation holes as U+0001.</summary>
static class CSharpStrings
{
    public static IEnumerable<string> Read(string source)
    {
        var joined = new StringBuilder();
        int i = 0, lastEnd = -1;
        while (i < source.Length)
        {
            char c = source[i];
            if (c == '/' && i + 1 < source.Length && source[i + 1] == '/')
            {
                i = source.IndexOf('\n', i) is var n && n < 0 ? source.Length : n;
                continue;
            }
            if (c == '\'' && i + 2 < source.Length) { i = source[i + 1] == '\\' ? source.IndexOf('\'', i + 3) + 1 : i + 3; continue; }
            bool interpolated = c == '$' && i + 1 < source.Length && source[i + 1] == '"';
            if (c != '"' && !interpolated) { i++; continue; }
            int start = interpolated ? i + 1 : i;
            if (lastEnd >= 0 && !source[lastEnd..i].All(ch => char.IsWhiteSpace(ch) || ch == '+'))
            {
                if (joined.Length > 0) yield return joined.ToString();
                joined.Clear();
            }
            i = ReadLiteral(source, start + 1, interpolated, joined);
            lastEnd = i;
        }
        if (joined.Length > 0) yield return joined.ToString();
    }

    /// <summary>Reads a regular or interpolated literal from after its opening quote; returns the index after it.</summary>
    static int ReadLiteral(string s, int i, bool interpolated, StringBuilder into)
    {
        while (i < s.Length && s[i] != '"')
        {
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                into.Append(s[i + 1] switch { 'n' => '\n', 't' => '\t', var other => other });
                i += 2;
            }
            else if (interpolated && s[i] == '{' && i + 1 < s.Length && s[i + 1] == '{') { into.Append('{'); i += 2; }
            else if (interpolated && s[i] == '}' && i + 1 < s.Length && s[i + 1] == '}') { into.Append('}'); i += 2; }
            else if (interpolated && s[i] == '{')
            {
                into.Append('\u0001');
                i = SkipHole(s, i + 1);
            }
            else into.Append(s[i++]);
        }
        return i + 1;
    }

    /// <summary>Skips an interpolation hole (nested braces and string literals inside it) to after its closing brace.</summary>
    static int SkipHole(string s, int i)
    {
        int depth = 1;
        while (i < s.Length && depth > 0)
        {
            if (s[i] == '"') i = ReadLiteral(s, i + 1, interpolated: false, new StringBuilder());
            else if (s[i] == '$' && i + 1 < s.Length && s[i + 1] == '"') i = ReadLiteral(s, i + 2, interpolated: true, new StringBuilder());
            else
            {
                if (s[i] == '{') depth++;
                else if (s[i] == '}') depth--;
                i++;
            }
        }
        return i;
    }
}
