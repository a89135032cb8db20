using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Hub;

/// <summary>The answer of the Hub's <c>/api/{models|datasets}/{id}/revision/{revision}</c>: the commit the revision is at
/// (<c>sha</c>) and the repository's files (<c>siblings[].rfilename</c>).</summary>
sealed record HubRepoListing(string Commit, IReadOnlyList<string> Files)
{
    public static HubRepoListing Parse(byte[] json, string source)
    {
        using var document = JsonFile.Parse(json, source);
        var root = JsonFile.RequireObject(document.RootElement, source);
        var commit = JsonFile.OptionalString(root, "sha", source) ?? throw JsonFile.Missing("sha", source);
        if (!HubRepoId.IsCommit(commit)) throw new SharpLMException($"{source}: \"sha\" is \"{commit}\", expected a 40-character commit id");
        if (!root.TryGetProperty("siblings", out var siblings)) throw JsonFile.Missing("siblings", source);
        if (siblings.ValueKind != JsonValueKind.Array) throw JsonFile.Wrong(siblings, "siblings", "an array of files", source);
        var files = new List<string>();
        foreach (var sibling in siblings.EnumerateArray())
        {
            if (sibling.ValueKind != JsonValueKind.Object) throw JsonFile.Wrong(sibling, "siblings[]", "an object", source);
            var name = JsonFile.OptionalString(sibling, "rfilename", source) ?? throw JsonFile.Missing("siblings[].rfilename", source);
            files.Add(name);
        }
        return new HubRepoListing(commit, files);
    }

    /// <summary>A repository path becomes a path in the cache: it must stay inside the snapshot folder.</summary>
    public static void RequireSafePath(string file, HubRepoId repo)
    {
        var segments = file.Split('/');
        if (file.Contains('\\') || file.Contains('\0') || segments.Any(s => s is "" or "." or ".."))
            throw new SharpLMException($"{repo}: the Hub listed the file \"{file}\", a path that would leave the cache's snapshot folder");
    }
}
