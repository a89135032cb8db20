namespace SharpLM.IO;

/// <summary>
/// Checks a file SharpLM is about to read before it is opened. Opening a FIFO blocks until something writes to it
/// (forever, for a file put there by mistake) and a device such as /dev/zero never ends, so only regular files are
/// read. .NET does not expose the Unix file type, but FIFOs, sockets and devices all report a size of 0, and no
/// format SharpLM reads is valid when empty: refusing empty files refuses them all, before any open.
/// </summary>
public static class InputFile
{
    /// <summary>Fails unless <paramref name="path"/> is an existing, non-empty regular file.</summary>
    /// <param name="what">what the file should be, for messages ("config.json", "llama2.c checkpoint")</param>
    public static void RequireRegular(string path, string what)
    {
        if (Directory.Exists(path)) throw new SharpLMException($"{path}: expected a {what} file, found a folder");
        var info = Resolve(path);
        if (!info.Exists) throw new SharpLMException($"{what} not found: {path}");
        if (info.Length == 0) throw Empty(path);
    }

    /// <summary>The size of the file <paramref name="path"/> names, through any symbolic links (the Hugging Face cache's
    /// snapshot folders are links into its blobs; a link's own length is that of the path it holds).</summary>
    public static long Length(string path) => Resolve(path).Length;

    static FileInfo Resolve(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target ? target : info;
    }

    /// <summary>The message for a file of size 0.</summary>
    public static SharpLMException Empty(string path) =>
        new($"{path}: file is empty (or is not a regular file, e.g. a FIFO or device, which SharpLM does not read)");

    /// <summary>Opens a checked file for reading (see <see cref="RequireRegular"/>).</summary>
    public static FileStream OpenRead(string path, string what, int bufferSize = 4096)
    {
        RequireRegular(path, what);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
    }

    /// <summary>The bytes of a checked file of at most <paramref name="maxBytes"/> (a larger one is refused unread).</summary>
    public static byte[] ReadAllBytes(string path, string what, long maxBytes)
    {
        RequireRegular(path, what);
        long length = Length(path);
        if (length > maxBytes)
            throw new SharpLMException($"{path}: {length:N0} bytes is too large for a {what} (at most {maxBytes:N0}); is it the right file?");
        using var stream = OpenRead(path, what);
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
