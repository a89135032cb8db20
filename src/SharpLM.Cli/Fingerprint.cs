using System.Security.Cryptography;
using System.Text;

namespace SharpLM.Cli;

/// <summary>SHA-256 of what a run's exactness depends on besides its settings: the tokenizer's files and the training
/// data's files. Content, not paths or times, is hashed: a copied or touched corpus is the same corpus, and hashing
/// runs far faster than tokenizing does.</summary>
static class Fingerprint
{
    /// <summary>The files of a tokenizer given as a file, or as a folder holding tokenizer.json or tokenizer.bin (with
    /// tokenizer_config.json, which picks its special tokens).</summary>
    public static string Tokenizer(string path) => Directory.Exists(path)
        ? Hash(new[] { "tokenizer.json", "tokenizer.bin", "tokenizer_config.json" }
            .Select(name => Path.Combine(path, name)).Where(File.Exists).Select(f => (Path.GetFileName(f), f)))
        : Hash(File.Exists(path) ? [(Path.GetFileName(path), path)] : []);

    /// <summary>Every file under the given files and folders, in a fixed order, each named relative to what was given.</summary>
    public static string Files(IEnumerable<string> paths) => Hash(paths.SelectMany(FilesUnder));

    static IEnumerable<(string Name, string Path)> FilesUnder(string root) => Directory.Exists(root)
        ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => (Name: Path.GetRelativePath(root, f).Replace('\\', '/'), Path: f)).OrderBy(f => f.Name, StringComparer.Ordinal)
        : File.Exists(root) ? [(Path.GetFileName(root), root)] : [];

    static string Hash(IEnumerable<(string Name, string Path)> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var (name, path) in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name + "\0"));
            using var stream = File.OpenRead(path);
            hash.AppendData(BitConverter.GetBytes(stream.Length));
            for (int read; (read = stream.Read(buffer)) > 0;) hash.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
