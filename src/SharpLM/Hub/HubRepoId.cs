using System.Text.RegularExpressions;

namespace SharpLM.Hub;

/// <summary>A Hub repository and a revision of it: <c>org/name</c> or <c>org/name@revision</c> (a branch, a tag, a commit
/// or <c>refs/pr/N</c>; <c>main</c> when none is given).</summary>
public sealed partial record HubRepoId(string Id, string Revision = HubRepoId.DefaultRevision, HubRepoType Type = HubRepoType.Model)
{
    public const string DefaultRevision = "main";

    // The Hub's own rules for names: letters, digits, '-', '_', '.', no '--' or '..', at most 96 characters.
    [GeneratedRegex(@"^(?<id>[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95})(@(?<revision>[\w./-]{1,255}))?$")]
    private static partial Regex Pattern();

    /// <summary>Reads <c>org/name[@revision]</c>; false for anything else (a path with more folders, a name with spaces).</summary>
    public static bool TryParse(string text, HubRepoType type, out HubRepoId repo)
    {
        repo = null!;
        var match = Pattern().Match(text);
        if (!match.Success) return false;
        string id = match.Groups["id"].Value, revision = match.Groups["revision"].Success ? match.Groups["revision"].Value : DefaultRevision;
        if (id.Contains("--") || id.Contains("..") || id.EndsWith('.') || !IsSafeRevision(revision)) return false;
        repo = new HubRepoId(id, revision, type);
        return true;
    }

    public static HubRepoId Parse(string text, HubRepoType type = HubRepoType.Model) => TryParse(text, type, out var repo)
        ? repo
        : throw new SharpLMException($"\"{text}\" is not a Hub repository id: expected org/name or org/name@revision");

    /// <summary>A revision becomes a file below the cache's refs/ folder: no empty, "." or ".." segment may climb out of it.</summary>
    static bool IsSafeRevision(string revision) => revision.Split('/').All(s => s.Length > 0 && s != "." && s != "..");

    /// <summary>A full commit id (the Hub's <c>sha</c>), as opposed to a branch or tag.</summary>
    public static bool IsCommit(string revision) => revision.Length == 40 && revision.All(char.IsAsciiHexDigitLower);

    /// <summary>The cache folder's name, as huggingface_hub spells it: <c>models--org--name</c>, <c>datasets--org--name</c>.</summary>
    public string CacheFolderName => $"{TypePlural}--{Id.Replace("/", "--", StringComparison.Ordinal)}";

    /// <summary>"models" or "datasets": the API's path segment and the cache folder's prefix.</summary>
    public string TypePlural => Type == HubRepoType.Dataset ? "datasets" : "models";

    public override string ToString() => Revision == DefaultRevision ? Id : $"{Id}@{Revision}";
}
