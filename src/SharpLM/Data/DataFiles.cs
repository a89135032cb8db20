namespace SharpLM.Data;

/// <summary>
/// The input files of a reader (<see cref="CorpusReader"/>, <see cref="Instructions.InstructionReader"/>): paths are
/// checked up front (each must exist; a file named directly must have a known extension), folders are searched
/// recursively and read in ordinal path order so every run sees the same files in the same order, and files with
/// other extensions inside a folder are skipped and counted.
/// </summary>
internal sealed class DataFiles
{
    readonly string[] extensions;

    /// <param name="paths">files and folders</param>
    /// <param name="extensions">known extensions, lower case with the dot</param>
    /// <param name="what">what the files hold, in messages ("corpus", "instruction data")</param>
    /// <param name="notFound">how a missing path is named ("Corpus path", "Instruction data")</param>
    /// <exception cref="SharpLMException">No path, a missing path, or a file with an unknown extension.</exception>
    public DataFiles(IEnumerable<string> paths, string[] extensions, string what, string notFound)
    {
        Paths = paths.ToList();
        this.extensions = extensions;
        if (Paths.Count == 0) throw new SharpLMException($"No {what} path given.");
        foreach (string path in Paths)
        {
            if (Directory.Exists(path)) continue;
            if (!File.Exists(path)) throw new SharpLMException($"{notFound} not found: {path}");
            if (!IsKnown(path))
                throw new SharpLMException(
                    $"{path}: unsupported {what} file type \"{Path.GetExtension(path)}\" (expected {string.Join(", ", extensions)})");
        }
    }

    public IReadOnlyList<string> Paths { get; }

    /// <summary>The files to read, in order; <paramref name="ignored"/> is called for each file a folder holds
    /// with another extension.</summary>
    public IEnumerable<string> Enumerate(Action ignored)
    {
        foreach (string path in Paths)
        {
            if (!Directory.Exists(path))
            {
                yield return path;
                continue;
            }
            var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).ToList();
            files.Sort(StringComparer.Ordinal);
            foreach (string file in files)
            {
                if (IsKnown(file)) yield return file;
                else ignored();
            }
        }
    }

    bool IsKnown(string path) => extensions.Contains(Path.GetExtension(path).ToLowerInvariant());
}
