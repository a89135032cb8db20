namespace SharpLM.IO;

/// <summary>Puts a folder written elsewhere (<c>name.partial</c>) in place of another, so that readers find either the
/// old folder or the complete new one, never a half-written one.</summary>
public static class FolderSwap
{
    /// <summary>Moves <paramref name="complete"/> to <paramref name="destination"/>; an older folder there is moved
    /// aside first and deleted only once the new one is in place.</summary>
    public static void Replace(string complete, string destination)
    {
        if (Directory.Exists(destination))
        {
            var old = destination + ".old";
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
            Directory.Move(destination, old);
            Directory.Move(complete, destination);
            Directory.Delete(old, recursive: true);
        }
        else
        {
            Directory.Move(complete, destination);
        }
    }
}
