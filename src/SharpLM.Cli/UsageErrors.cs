using System.CommandLine;

namespace SharpLM.Cli;

/// <summary>Turns the parser's errors into one line each: an unknown option is named with the closest real one.</summary>
static class UsageErrors
{
    public static IEnumerable<string> Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var usage = $"(`{CommandPath(command)} --help` lists the options)";
        var first = parse.UnmatchedTokens.FirstOrDefault();
        if (first is not null && !first.StartsWith('-') && command.Subcommands.Count > 0)
        {
            var closest = Closest(first, command.Subcommands.Select(c => c.Name).ToList());
            yield return $"unknown command `{first}`" + (closest is null ? "" : $"; did you mean `{closest}`?") + $" {usage}";
            yield break;
        }
        var unknown = parse.UnmatchedTokens.Where(t => t.StartsWith('-') && t.Length > 1).ToList();
        if (unknown.Count > 0)
        {
            var names = command.Options.Concat(command.Parents.OfType<Command>().SelectMany(c => c.Options.Where(o => o.Recursive)))
                .SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--")).Distinct().ToList();
            foreach (var token in unknown)
            {
                var flag = token.Split('=', 2)[0];
                var closest = Closest(flag, names);
                yield return $"unknown option {flag} for `{CommandPath(command)}`" + (closest is null ? "" : $"; did you mean {closest}?") +
                             $" {usage}";
            }
            yield break;
        }
        foreach (var error in parse.Errors.Select(e => e.Message).Distinct())
            yield return $"{error} {usage}";
    }

    static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = c.Parents.FirstOrDefault()) names.Insert(0, c.Name);
        return string.Join(' ', names);
    }

    /// <summary>The name most like <paramref name="typed"/> (edit distance relative to length, dashes aside), when
    /// alike enough to be a typo or another tool's spelling.</summary>
    internal static string? Closest(string typed, IReadOnlyList<string> names)
    {
        string a = typed.TrimStart('-').ToLowerInvariant();
        var scored = names
            .Select(n => (Name: n, Similarity: 1.0 - (double)Distance(a, n.TrimStart('-')) / Math.Max(a.Length, n.TrimStart('-').Length)))
            .OrderByDescending(x => x.Similarity).FirstOrDefault();
        return scored.Name is not null && scored.Similarity >= 0.5 ? scored.Name : null;
    }

    static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        var current = new int[b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
