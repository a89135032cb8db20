namespace SharpLM.IO;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new one, never a
/// half-written file (a crash or a full disk mid-save must not destroy the last good checkpoint).
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Calls <paramref name="write"/> on <c>&lt;path&gt;.tmp</c> in the same folder, flushes it to disk,
    /// then renames it over <paramref name="path"/>. If <paramref name="write"/> throws, the temporary
    /// file is removed and <paramref name="path"/> is left as it was.
    /// </summary>
    public static void Write(string path, Action<Stream> write) =>
        File.Move(WriteTemporary(path, write), Path.GetFullPath(path), overwrite: true);

    /// <summary>
    /// The first half of <see cref="Write"/>: writes and flushes <c>&lt;path&gt;.tmp</c> and returns its path, for
    /// callers that move several files into place only once all of them are complete. If <paramref name="write"/>
    /// throws, the temporary file is removed.
    /// </summary>
    public static string WriteTemporary(string path, Action<Stream> write)
    {
        string fullPath = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(folder))
            throw new SharpLMException($"Cannot write {path}: the folder {folder} does not exist.");

        // Same folder, so the rename stays on one file system and is atomic.
        string temporary = fullPath + ".tmp";
        try
        {
            using var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
            write(stream);
            stream.Flush(flushToDisk: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        return temporary;
    }
}
