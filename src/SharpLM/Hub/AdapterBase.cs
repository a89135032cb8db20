
namespace SharpLM.Hub;

/// <summary>
/// Finds the base model of an adapter folder that is loaded on its own. base_model_name_or_path is tried relative to
/// the adapter folder (where SharpLM writes it relative to, so the two can move together), then as given (an absolute
/// folder, or relative to the current folder as PEFT writes it); when neither is a model folder, the folders beside the
/// adapter are searched for the base whose fingerprint the adapter recorded. The current folder alone never decides.
/// </summary>
public static class AdapterBase
{
    /// <summary>The base model folder of <paramref name="adapterFolder"/>; fails saying everywhere it looked.</summary>
    public static string Resolve(string adapterFolder)
    {
        var config = AdapterFolder.ReadConfig(adapterFolder);
        var looked = new List<string>();
        if (config.BaseModel is { } named)
        {
            foreach (var candidate in new[] { Path.Combine(adapterFolder, named), named }.Distinct())
            {
                looked.Add(candidate);
                if (IsModelFolder(candidate)) return candidate;
            }
        }
        if (config.BaseFingerprint is { } fingerprint && FindByFingerprint(adapterFolder, fingerprint, looked) is { } found)
            return found;
        if (config.BaseModel is null && config.BaseFingerprint is null)
            throw new SharpLMException($"{adapterFolder} is a LoRA adapter that names no base model (base_model_name_or_path); " +
                                       "load its base model folder with this folder as the adapter");
        throw new SharpLMException($"{adapterFolder} is a LoRA adapter for {config.BaseModel ?? "a base model"}, which was not found; looked in " +
                                   $"{string.Join(", ", looked)}. Load its base model folder with this folder as the adapter");
    }

    /// <summary>A model folder beside the adapter whose weights have the recorded fingerprint.</summary>
    static string? FindByFingerprint(string adapterFolder, string fingerprint, List<string> looked)
    {
        string adapter = Path.TrimEndingDirectorySeparator(Path.GetFullPath(adapterFolder));
        string? parent = Path.GetDirectoryName(adapter);
        if (parent is null) return null;
        looked.Add($"the model folders in {parent} (for the base's fingerprint {fingerprint})");
        foreach (var sibling in Directory.EnumerateDirectories(parent).Order(StringComparer.Ordinal))
        {
            if (sibling == adapter || !IsModelFolder(sibling)) continue;
            try
            {
                if (BaseFingerprint.OfFolder(sibling) == fingerprint) return sibling;
            }
            catch (SharpLMException)
            {
                // A damaged neighbour is not the base; it is reported when it is loaded itself.
            }
        }
        return null;
    }

    static bool IsModelFolder(string folder) =>
        Directory.Exists(folder) && File.Exists(Path.Combine(folder, ModelFolder.ConfigFile))
        && (File.Exists(Path.Combine(folder, ModelFolder.WeightsFile)) || File.Exists(Path.Combine(folder, ModelFolder.IndexFile)));
}
