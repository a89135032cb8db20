using System.Text.Json;
using SharpLM.IO;
using static TorchSharp.torch;

namespace SharpLM.Formats;

/// <summary>
/// A sharded checkpoint: <c>model.safetensors.index.json</c> whose <c>weight_map</c> maps each tensor
/// name to the shard file (in the same folder) that holds it. Opening checks that every shard exists,
/// is a valid safetensors file and holds the tensors the index assigns to it.
/// </summary>
public sealed class SafetensorsIndex : IDisposable
{
    readonly Dictionary<string, string> weightMap;
    readonly Dictionary<string, SafetensorsFile> shards;

    SafetensorsIndex(string path, Dictionary<string, string> weightMap, Dictionary<string, SafetensorsFile> shards)
    {
        Path = path;
        this.weightMap = weightMap;
        this.shards = shards;
    }

    /// <summary>Opens the index at <paramref name="indexPath"/> and all its shards.</summary>
    public static SafetensorsIndex Open(string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (string shard in weightMap.Values.Distinct().Order(StringComparer.Ordinal))
            {
                string shardPath = System.IO.Path.Combine(folder, shard);
                if (!File.Exists(shardPath) && !Directory.Exists(shardPath))
                    throw new SharpLMException($"{indexPath}: shard \"{shard}\" not found (looked for {shardPath})");
                shards[shard] = SafetensorsFile.Open(shardPath);
            }
            foreach (var (name, shard) in weightMap)
                if (!shards[shard].Contains(name))
                    throw new SharpLMException($"{indexPath}: tensor \"{name}\" is mapped to \"{shard}\", but that shard has no such tensor");
            return new SafetensorsIndex(indexPath, weightMap, shards);
        }
        catch
        {
            foreach (var file in shards.Values) file.Dispose();
            throw;
        }
    }

    public string Path { get; }

    /// <summary>The shard files <paramref name="indexPath"/>'s weight map names, once each, without opening them.</summary>
    public static IReadOnlyList<string> ShardFiles(string indexPath) =>
        ReadWeightMap(indexPath).Values.Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>Tensor name to shard file name, as written in the index.</summary>
    public IReadOnlyDictionary<string, string> WeightMap => weightMap;

    /// <summary>Every tensor name, sorted (ordinal).</summary>
    public IEnumerable<string> Names => weightMap.Keys.Order(StringComparer.Ordinal);

    public bool Contains(string name) => weightMap.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/> in its shard.</summary>
    public SafetensorsEntry GetEntry(string name) => ShardOf(name).GetEntry(name);

    /// <summary>Loads <paramref name="name"/> from its shard (see <see cref="SafetensorsFile.Load"/>).</summary>
    public Tensor Load(string name, ScalarType? dtype = null) => ShardOf(name).Load(name, dtype);

    /// <summary>See <see cref="SafetensorsFile.LoadFirst"/>.</summary>
    public Tensor LoadFirst(string name, long count) => ShardOf(name).LoadFirst(name, count);

    SafetensorsFile ShardOf(string name) =>
        weightMap.TryGetValue(name, out string? shard) ? shards[shard]
        : throw new SharpLMException($"{Path}: no tensor named \"{name}\" in the weight_map");

    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        var document = JsonFile.Read(indexPath, "safetensors index");
        using (document)
        {
            var root = JsonFile.RequireObject(document.RootElement, indexPath, "a JSON object with a \"weight_map\" object");
            if (!root.TryGetProperty("weight_map", out var map)) throw JsonFile.Missing("weight_map", indexPath);
            if (map.ValueKind != JsonValueKind.Object)
                throw JsonFile.Wrong(map, "weight_map", "an object from tensor names to shard file names", indexPath);
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in map.EnumerateObject())
            {
                if (item.Value.ValueKind != JsonValueKind.String)
                    throw JsonFile.Wrong(item.Value, $"weight_map[\"{item.Name}\"]", "a shard file name (a string)", indexPath);
                string shard = item.Value.GetString()!;
                // Shards live beside the index; a path elsewhere is a broken or hostile index.
                if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard))
                    throw new SharpLMException($"{indexPath}: weight_map[\"{item.Name}\"] = \"{shard}\" is not a file name in the index's folder");
                weightMap[item.Name] = shard;
            }
            if (weightMap.Count == 0) throw new SharpLMException($"{indexPath}: the weight_map is empty");
            return weightMap;
        }
    }

    public void Dispose()
    {
        foreach (var file in shards.Values) file.Dispose();
    }
}
