namespace SharpLM.Cli.DemoTask;

/// <summary>Takes the definition out of a WordNet gloss, which is the definition followed by example
/// sentences in quotes, all separated by semicolons.</summary>
static class WordNetGloss
{
    /// <summary>The semicolon-separated parts before the first quoted example, joined with "; ".
    /// <c>giving birth; "a parturient heifer"</c> gives <c>giving birth</c>.
    /// Empty when the gloss is only examples.</summary>
    public static string Definition(string gloss)
    {
        var parts = new List<string>();
        foreach (var part in gloss.Split(';'))
        {
            var trimmed = part.Trim();
            if (trimmed.StartsWith('"')) break;
            if (trimmed.Length > 0) parts.Add(trimmed);
        }
        return string.Join("; ", parts);
    }
}
