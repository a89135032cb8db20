using Microsoft.Win32.SafeHandles;
using SharpLM.IO;
using static TorchSharp.torch;

namespace SharpLM.Formats;

/// <summary>
/// An open <c>.safetensors</c> file: the header is read and checked on open, tensors are read one at a
/// time with positioned reads, so loading one tensor touches only its own bytes. <see cref="Load"/> may
/// be called from several threads at once.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    readonly SafeFileHandle file;
    readonly Dictionary<string, SafetensorsEntry> byName;
    readonly long dataStart;

    SafetensorsFile(string path, SafeFileHandle file)
    {
        Path = path;
        this.file = file;
        var (entries, metadata, start) = SafetensorsHeader.Read(file, path);
        Entries = entries;
        Metadata = metadata;
        dataStart = start;
        byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates <paramref name="path"/>; a damaged file fails here, naming the problem.</summary>
    public static SafetensorsFile Open(string path)
    {
        InputFile.RequireRegular(path, "safetensors");
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            return new SafetensorsFile(path, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public string Path { get; }

    /// <summary>The header's <c>__metadata__</c> (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>All tensors, in the order their bytes are stored.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>; fails naming the file when there is none.</summary>
    public SafetensorsEntry GetEntry(string name) =>
        byName.TryGetValue(name, out var entry) ? entry
        : throw new SharpLMException($"{Path}: no tensor named \"{name}\" (the file has {Entries.Count} tensors)");

    /// <summary>
    /// Reads tensor <paramref name="name"/> into a new CPU tensor of its stored type, converted to
    /// <paramref name="dtype"/> when given. The caller owns (and disposes) the result.
    /// </summary>
    public Tensor Load(string name, ScalarType? dtype = null)
    {
        var entry = GetEntry(name);
        var stored = entry.DType.ToScalarType()
            ?? throw new SharpLMException($"{Path}: tensor \"{name}\" is {entry.DType}, which TorchSharp cannot hold.");
        var tensor = empty(entry.Shape.ToArray(), stored);
        try
        {
            TensorBytes.Read(file, dataStart + entry.DataBegin, tensor, Path, name);
            if (dtype is not { } wanted || wanted == stored) return tensor;
            using (tensor) return tensor.to(wanted);
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>The first <paramref name="count"/> values (fewer if the tensor is smaller) of tensor
    /// <paramref name="name"/>, flattened, in its stored type; only their bytes are read.</summary>
    public Tensor LoadFirst(string name, long count)
    {
        var entry = GetEntry(name);
        var stored = entry.DType.ToScalarType()
            ?? throw new SharpLMException($"{Path}: tensor \"{name}\" is {entry.DType}, which TorchSharp cannot hold.");
        var tensor = empty(Math.Min(count, entry.ElementCount), stored);
        try
        {
            TensorBytes.Read(file, dataStart + entry.DataBegin, tensor, Path, name);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    public void Dispose() => file.Dispose();
}
