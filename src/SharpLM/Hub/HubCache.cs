using System.Text;
using SharpLM.IO;

namespace SharpLM.Hub;

/// <summary>
/// The Hugging Face cache, laid out exactly as huggingface_hub lays it out, so that either side reuses what the other
/// downloaded: <c>models--org--name/blobs/&lt;etag&gt;</c> holds each file's bytes once, <c>snapshots/&lt;commit&gt;/&lt;path&gt;</c>
/// are relative symbolic links to those blobs, <c>refs/&lt;revision&gt;</c> holds the commit a branch or tag pointed at when
/// last asked, and <c>.locks/models--org--name/&lt;etag&gt;.lock</c> keeps two downloaders off the same blob.
/// </summary>
public sealed class HubCache(string folder)
{
    /// <summary>The cache's root (huggingface_hub's <c>$HF_HOME/hub</c>).</summary>
    public string Folder { get; } = folder;

    public string RepoFolder(HubRepoId repo) => Path.Combine(Folder, repo.CacheFolderName);

    public string SnapshotFolder(HubRepoId repo, string commit) => Path.Combine(RepoFolder(repo), "snapshots", commit);

    /// <summary>The commit the cache holds for <paramref name="repo"/>'s revision: the revision itself when it is a commit with
    /// a snapshot, else what refs/&lt;revision&gt; says; null when the cache knows neither.</summary>
    public string? CachedCommit(HubRepoId repo)
    {
        if (HubRepoId.IsCommit(repo.Revision)) return Directory.Exists(SnapshotFolder(repo, repo.Revision)) ? repo.Revision : null;
        var reference = RefPath(repo);
        if (!File.Exists(reference)) return null;
        var commit = File.ReadAllText(reference).Trim();
        if (!HubRepoId.IsCommit(commit))
            throw new SharpLMException($"{reference}: expected a 40-character commit id, found \"{commit}\"; delete the file to ask the Hub again");
        return commit;
    }

    /// <summary>The snapshot folder of <paramref name="repo"/>'s revision when the cache has one; null otherwise.</summary>
    public string? FindSnapshot(HubRepoId repo) =>
        CachedCommit(repo) is { } commit && Directory.Exists(SnapshotFolder(repo, commit)) ? SnapshotFolder(repo, commit) : null;

    /// <summary>Records that <paramref name="repo"/>'s revision is <paramref name="commit"/> (no file for a commit itself).</summary>
    public void WriteRef(HubRepoId repo, string commit)
    {
        if (repo.Revision == commit) return;
        var path = RefPath(repo);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == commit) return;
        AtomicFile.Write(path, s => s.Write(Encoding.ASCII.GetBytes(commit))); // no newline, as huggingface_hub writes it
    }

    public string BlobPath(HubRepoId repo, string etag) => Path.Combine(RepoFolder(repo), "blobs", etag);

    public string LockPath(HubRepoId repo, string etag) => Path.Combine(Folder, ".locks", repo.CacheFolderName, etag + ".lock");

    /// <summary>The snapshot's entry for <paramref name="file"/> (a path inside the repository, '/'-separated).</summary>
    public string PointerPath(HubRepoId repo, string commit, string file) =>
        Path.Combine(SnapshotFolder(repo, commit), file.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>Points the snapshot's entry for <paramref name="file"/> at its blob with a relative link (as huggingface_hub
    /// does), or copies the blob where the file system has no links.</summary>
    public void Link(HubRepoId repo, string commit, string file, string etag)
    {
        string pointer = PointerPath(repo, commit, file), blob = BlobPath(repo, etag);
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        if (File.Exists(pointer) || new FileInfo(pointer).LinkTarget is not null) File.Delete(pointer); // a stale or dangling link
        try
        {
            File.CreateSymbolicLink(pointer, Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Copy(blob, pointer);
        }
    }

    string RefPath(HubRepoId repo) => Path.Combine(RepoFolder(repo), "refs", repo.Revision.Replace('/', Path.DirectorySeparatorChar));
}
