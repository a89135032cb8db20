using System.Text.Json;
using System.Text.RegularExpressions;
using SharpLM.IO;
using static TorchSharp.torch;

namespace SharpLM.Formats;

/// <summary>
/// Writes a model's tensors as transformers' save_pretrained does: one <c>model.safetensors</c> when they fit in the
/// maximum shard size, otherwise <c>model-00001-of-0000N.safetensors</c> shards plus <c>model.safetensors.index.json</c>
/// (<c>metadata.total_size</c> and <c>weight_map</c>, keys sorted, two-space indent). Weights from an earlier save
/// in the other layout, or with another shard count, are removed so that no reader ever combines old and new files.
/// </summary>
public static partial class ShardedSafetensorsWriter
{
    /// <summary>Splits tensors (in the given order) into shards as huggingface_hub does: a tensor that would take the
    /// current shard past <paramref name="maxShardBytes"/> starts a new one, and a tensor larger than that on its
    /// own gets a shard of its own. Returns the tensor names of each shard.</summary>
    public static List<List<string>> Plan(IEnumerable<(string Name, long Bytes)> tensors, long maxShardBytes)
    {
        var shards = new List<List<string>>();
        var current = new List<string>();
        long currentBytes = 0;
        foreach (var (name, bytes) in tensors)
        {
            if (bytes > maxShardBytes)
            {
                shards.Add([name]);
                continue;
            }
            if (currentBytes + bytes > maxShardBytes && current.Count > 0)
            {
                shards.Add(current);
                current = [];
                currentBytes = 0;
            }
            current.Add(name);
            currentBytes += bytes;
        }
        if (current.Count > 0) shards.Add(current);
        return shards;
    }

    /// <summary>transformers' shard file name: model-00002-of-00005.safetensors for weights file model.safetensors.</summary>
    public static string ShardName(string weightsFile, int index, int count) =>
        $"{Path.GetFileNameWithoutExtension(weightsFile)}-{index:D5}-of-{count:D5}{Path.GetExtension(weightsFile)}";

    public static string IndexName(string weightsFile) => weightsFile + ".index.json";

    /// <summary>
    /// Writes <paramref name="tensors"/> (in order; converted to <paramref name="dtype"/>) into <paramref name="folder"/>
    /// as <paramref name="weightsFile"/> or as its shards and index. Every new file is complete on disk before the old
    /// weights are removed; a crash while the files are moved into place leaves a folder that fails to load with a clear
    /// message rather than one that loads a mixture.
    /// </summary>
    public static void Write(string folder, string weightsFile, IReadOnlyList<KeyValuePair<string, Tensor>> tensors,
        SafetensorsDType dtype, long maxShardBytes)
    {
        var shards = Plan(tensors.Select(t => (t.Key, t.Value.numel() * dtype.ElementSize())), maxShardBytes);
        var single = Path.Combine(folder, weightsFile);
        var index = Path.Combine(folder, IndexName(weightsFile));
        if (shards.Count <= 1)
        {
            // The single file is what loaders (SharpLM's and transformers') read first, so from here on it wins.
            SafetensorsWriter.Write(single, tensors, dtype);
            RemoveStale(folder, weightsFile, keep: []);
            File.Delete(index);
            return;
        }

        var byName = tensors.ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
        var names = shards.Select((_, i) => ShardName(weightsFile, i + 1, shards.Count)).ToList();
        var staged = new List<(string Temporary, string Final)>();
        try
        {
            for (int i = 0; i < shards.Count; i++)
            {
                var path = Path.Combine(folder, names[i]);
                staged.Add((SafetensorsWriter.WriteTemporary(path, shards[i].Select(n => KeyValuePair.Create(n, byName[n])), dtype), path));
            }
            var weightMap = shards.SelectMany((shard, i) => shard.Select(n => (Name: n, File: names[i])));
            long totalBytes = tensors.Sum(t => t.Value.numel() * dtype.ElementSize());
            long totalParameters = tensors.Sum(t => t.Value.numel());
            staged.Add((AtomicFile.WriteTemporary(index, s => WriteIndex(s, weightMap, totalBytes, totalParameters)), index));

            // The old index goes first, so no reader pairs it with shards that are being replaced; the new index comes last.
            File.Delete(index);
            File.Delete(single);
            foreach (var (temporary, final) in staged) File.Move(temporary, final, overwrite: true);
            staged.Clear();
        }
        finally
        {
            foreach (var (temporary, _) in staged) File.Delete(temporary);
        }
        RemoveStale(folder, weightsFile, keep: names);
    }

    /// <summary>The index exactly as transformers writes it: json.dumps(index, indent=2, sort_keys=True) + "\n".</summary>
    static void WriteIndex(Stream stream, IEnumerable<(string Name, string File)> weightMap, long totalBytes, long totalParameters)
    {
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("metadata");
            writer.WriteNumber("total_parameters", totalParameters);
            writer.WriteNumber("total_size", totalBytes);
            writer.WriteEndObject();
            writer.WriteStartObject("weight_map");
            foreach (var (name, file) in weightMap.OrderBy(e => e.Name, StringComparer.Ordinal)) writer.WriteString(name, file);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        stream.Write("\n"u8);
    }

    /// <summary>Deletes shards of <paramref name="weightsFile"/> from earlier saves that are not in <paramref name="keep"/>.</summary>
    static void RemoveStale(string folder, string weightsFile, IReadOnlyCollection<string> keep)
    {
        var stem = Path.GetFileNameWithoutExtension(weightsFile);
        var extension = Path.GetExtension(weightsFile);
        foreach (var path in Directory.EnumerateFiles(folder, $"{stem}-*-of-*{extension}"))
        {
            var name = Path.GetFileName(path);
            if (ShardPattern().IsMatch(name[stem.Length..^extension.Length]) && !keep.Contains(name)) File.Delete(path);
        }
    }

    [GeneratedRegex(@"^-\d{5}-of-\d{5}$")]
    private static partial Regex ShardPattern();
}
