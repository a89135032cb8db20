using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpLM.Adapters;
using SharpLM.Formats;
using SharpLM.IO;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Hub;

/// <summary>
/// A LoRA adapter on its own, in PEFT's layout: <c>adapter_config.json</c> (LoraConfig fields) and
/// <c>adapter_model.safetensors</c> with PEFT's tensor names
/// (<c>base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight</c>). SharpLM adds a fingerprint of the
/// base weights so an adapter put on the wrong base fails with a clear message instead of producing nonsense.
/// </summary>
public static class AdapterFolder
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    const string KeyPrefix = "base_model.model.";
    const string FingerprintField = "sharplm_base_fingerprint";
    const string AddedTokensField = "sharplm_added_tokens";

    public static bool IsAdapterFolder(string folder) => File.Exists(Path.Combine(folder, ConfigFile));

    /// <param name="baseModelPath">the base as the user named it: a relative folder is stored relative to the adapter
    /// folder (so the two can move together), anything else (an absolute folder, a Hub name) as given</param>
    /// <param name="addedTokens">the rows <paramref name="model"/> got on top of its base for tokens added to the
    /// tokenizer: recorded so that loading adds them again before the adapter goes on</param>
    public static void Save(string folder, LlamaForCausalLM model, LoraOptions options, string? baseModelPath, AddedTokenRows? addedTokens = null)
    {
        Directory.CreateDirectory(folder);
        if (baseModelPath is not null && !Path.IsPathRooted(baseModelPath) && Directory.Exists(baseModelPath))
            baseModelPath = Path.GetRelativePath(Path.GetFullPath(folder), Path.GetFullPath(baseModelPath));
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModelPath,
            ["r"] = options.Rank,
            ["lora_alpha"] = options.Alpha,
            ["lora_dropout"] = options.Dropout,
            ["target_modules"] = new JsonArray(options.TargetModules.Select(t => (JsonNode)t).ToArray()),
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["modules_to_save"] = null,
            ["use_dora"] = options.UseDora,
            ["use_rslora"] = options.UseRsLora,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
            [FingerprintField] = Hub.BaseFingerprint.Of(model, addedTokens),
        };
        if (addedTokens is not null)
            config[AddedTokensField] = new JsonObject
            {
                ["first_id"] = addedTokens.FirstId, ["count"] = addedTokens.Count, ["base_vocab_size"] = addedTokens.BaseVocabSize,
            };
        var tensors = AdapterTensors(model).Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value)).ToList();
        if (tensors.Count == 0) throw new SharpLMException("the model has no LoRA adapter to save");
        SafetensorsWriter.Write(Path.Combine(folder, WeightsFile), tensors, SafetensorsDType.F32);
        var json = config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.Write(Path.Combine(folder, ConfigFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(json + "\n")));
    }

    /// <summary>The adapter's settings, the base model it names (may be null) and the fingerprint of the base it was
    /// trained on (null for adapters SharpLM did not write).</summary>
    public static AdapterConfig ReadConfig(string folder)
    {
        var path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path) && !Directory.Exists(path)) throw new SharpLMException($"{folder} is not an adapter folder: {ConfigFile} is missing");
        using var document = JsonFile.Read(path, ConfigFile);
        var root = JsonFile.RequireObject(document.RootElement, path);
        string? Str(string field) => JsonFile.OptionalString(root, field, path);
        bool Flag(string field) => JsonFile.OptionalBool(root, field, path) ?? false;
        if (Str("peft_type") is { } type && type != "LORA") throw new SharpLMException($"{path}: peft_type \"{type}\" is not supported (only LORA)");
        if (Str("bias") is { } bias && bias != "none") throw new SharpLMException($"{path}: bias \"{bias}\" is not supported (only \"none\")");
        if (NonEmpty(root, "modules_to_save")) throw new SharpLMException($"{path}: modules_to_save is not supported");
        if (NonEmpty(root, "rank_pattern") || NonEmpty(root, "alpha_pattern"))
            throw new SharpLMException($"{path}: per-module rank_pattern/alpha_pattern is not supported");
        if (NonEmpty(root, "layers_to_transform"))
            throw new SharpLMException($"{path}: layers_to_transform (adapting some layers only) is not supported; SharpLM adapts every layer");
        if (Flag("fan_in_fan_out")) throw new SharpLMException($"{path}: fan_in_fan_out adapters (GPT-2 Conv1D) are not supported");
        var rank = JsonFile.OptionalInt(root, "r", path) ?? throw JsonFile.Missing("r", path);
        var targets = root.TryGetProperty("target_modules", out var targetModules) ? targetModules.ValueKind switch
        {
            JsonValueKind.Array when targetModules.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) =>
                targetModules.EnumerateArray().Select(t => t.GetString()!).ToList(),
            JsonValueKind.String => TargetsOfPattern(targetModules.GetString()!, path),
            _ => null,
        } : null;
        var options = new LoraOptions
        {
            Rank = rank,
            Alpha = JsonFile.OptionalDouble(root, "lora_alpha", path) ?? 8,
            Dropout = JsonFile.OptionalDouble(root, "lora_dropout", path) ?? 0,
            TargetModules = targets ?? (root.TryGetProperty("target_modules", out var given)
                ? throw JsonFile.Wrong(given, "target_modules", "a list of module names (strings) or a regular expression", path)
                : throw JsonFile.Missing("target_modules", path)),
            UseRsLora = Flag("use_rslora"),
            UseDora = Flag("use_dora"),
        };
        try
        {
            options.Validate();
        }
        catch (SharpLMException e)
        {
            throw new SharpLMException($"{path}: {e.Message}", e);
        }
        return new AdapterConfig(options, Str("base_model_name_or_path"), Str(FingerprintField), AddedTokens(root, path));
    }

    static AddedTokenRows? AddedTokens(JsonElement root, string path)
    {
        if (!root.TryGetProperty(AddedTokensField, out var field) || field.ValueKind == JsonValueKind.Null) return null;
        var rows = JsonFile.RequireObject(field, $"{path}: {AddedTokensField}");
        int Positive(string name) => JsonFile.OptionalInt(rows, name, $"{path}: {AddedTokensField}") is { } value and > 0
            ? value
            : throw new SharpLMException($"{path}: {AddedTokensField}.{name} must be a positive integer");
        return new AddedTokenRows(Positive("first_id"), Positive("count"), Positive("base_vocab_size"));
    }

    /// <summary>Whether an optional field is present with content: a non-empty list or object, or any other value but null.</summary>
    static bool NonEmpty(JsonElement root, string field) =>
        root.TryGetProperty(field, out var value) && value.ValueKind switch
        {
            JsonValueKind.Null => false,
            JsonValueKind.Array => value.GetArrayLength() > 0,
            JsonValueKind.Object => value.EnumerateObject().Any(),
            _ => true,
        };

    /// <summary>
    /// PEFT's string form of target_modules: "all-linear" (every projection but the head), or a regular expression
    /// that must match a module's whole name (e.g. <c>model.layers.3.self_attn.q_proj</c>). SharpLM adapts a projection
    /// in every layer or in none, so a pattern that picks some layers only is refused.
    /// </summary>
    static List<string> TargetsOfPattern(string pattern, string path)
    {
        if (pattern == "all-linear") return [.. LoraOptions.AllTargets];
        Regex regex;
        try
        {
            regex = UntrustedRegex.Create($"^(?:{pattern})$", RegexOptions.CultureInvariant); // untrusted: (x+x+)+y must not hang
        }
        catch (ArgumentException e)
        {
            throw new SharpLMException($"{path}: target_modules \"{pattern}\" is not a valid regular expression ({e.Message})", e);
        }
        string FullName(string target, int layer) => target == "lm_head" ? "lm_head"
            : $"model.layers.{layer}.{(target is "gate_proj" or "up_proj" or "down_proj" ? "mlp" : "self_attn")}.{target}";
        var targets = new List<string>();
        foreach (var target in LoraOptions.AllTargets.Append("lm_head"))
        {
            // Layer numbers up to 255 cover every model SharpLM targets; a pattern either matches all of them or none.
            int matched;
            try
            {
                matched = Enumerable.Range(0, 256).Count(layer => regex.IsMatch(FullName(target, layer)));
            }
            catch (RegexMatchTimeoutException e)
            {
                throw UntrustedRegex.TimedOut($"{path}: target_modules", pattern, e);
            }
            if (matched == 256 || (target == "lm_head" && matched > 0)) targets.Add(target);
            else if (matched > 0)
                throw new SharpLMException($"{path}: target_modules \"{pattern}\" adapts {target} in some layers only; " +
                                           "SharpLM adapts a projection in every layer or none");
        }
        if (targets.Count == 0)
            throw new SharpLMException($"{path}: target_modules \"{pattern}\" matches none of SharpLM's projections " +
                                       $"({string.Join(", ", LoraOptions.AllTargets)}, lm_head)");
        return targets;
    }

    /// <summary>Attaches the adapter saved in <paramref name="folder"/> to <paramref name="model"/> and loads its
    /// weights. Fails clearly when it was made for another base (fingerprint, module names or shapes), before the
    /// adapter is allocated.</summary>
    /// <param name="ignoreFingerprint">load it even though its recorded base fingerprint is another model's</param>
    public static LoraOptions Load(string folder, LlamaForCausalLM model, bool ignoreFingerprint = false)
    {
        var config = ReadConfig(folder);
        CheckBase(folder, config, model, ignoreFingerprint);
        CheckRank(folder, config.Options.Rank);
        config.AddedTokens?.ApplyTo(model);
        Lora.Apply(model, config.Options with { Dropout = 0 }, seed: 0);
        try
        {
            CopyWeights(folder, model);
        }
        catch
        {
            Lora.Remove(model);
            throw;
        }
        return config.Options;
    }

    /// <summary>Copies the adapter tensors saved in <paramref name="folder"/> into the adapters already attached to
    /// <paramref name="model"/>; names and shapes must match exactly, and the base must be the one the adapter was
    /// trained on unless <paramref name="ignoreFingerprint"/>.</summary>
    public static void LoadWeightsInto(string folder, LlamaForCausalLM model, bool ignoreFingerprint = false)
    {
        CheckBase(folder, ReadConfig(folder), model, ignoreFingerprint);
        CopyWeights(folder, model);
    }

    static void CopyWeights(string folder, LlamaForCausalLM model)
    {
        var weightsPath = Path.Combine(folder, WeightsFile);
        if (!File.Exists(weightsPath) && !Directory.Exists(weightsPath)) throw new SharpLMException($"{folder}: {WeightsFile} is missing");
        using var file = SafetensorsFile.Open(weightsPath);
        var expected = AdapterTensors(model);
        // PEFT in memory names adapters ("lora_A.default.weight"); files normally drop the name, but accept both.
        var available = file.Entries.ToDictionary(e => e.Name.Replace(".default.", ".").Replace($"{DoraMagnitude.Name}.weight", DoraMagnitude.Name),
            e => e.Name);
        var missing = expected.Keys.Where(k => !available.ContainsKey(k)).ToList();
        var unexpected = available.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new SharpLMException($"{folder}: the adapter does not fit this model." +
                                       (missing.Count > 0
                                           ? $" Missing: {string.Join(", ", missing.Take(5))}" +
                                             $"{(missing.Count > 5 ? $" and {missing.Count - 5} more" : "")}."
                                           : "") +
                                       (unexpected.Count > 0
                                           ? $" Not in this model: {string.Join(", ", unexpected.Take(5))}" +
                                             $"{(unexpected.Count > 5 ? $" and {unexpected.Count - 5} more" : "")}."
                                           : ""));
        using var noGrad = no_grad();
        foreach (var (key, target) in expected)
        {
            var entry = file.GetEntry(available[key]);
            if (!entry.Shape.SequenceEqual(target.shape))
                throw new SharpLMException($"{folder}: tensor {key} has shape [{string.Join(", ", entry.Shape)}] but this model needs " +
                                           $"[{string.Join(", ", target.shape)}]; the adapter belongs to another base model");
            if (!entry.DType.IsFloatingPoint())
                throw new SharpLMException($"{weightsPath}: tensor {entry.Name} is stored as {entry.DType}; adapter weights must be floating point");
            using var loaded = file.Load(entry.Name, target.dtype);
            target.copy_(loaded);
        }
    }

    /// <summary>The adapter's tensors under their names in PEFT's files: <c>base_model.model.</c> before the module path,
    /// and DoRA's magnitude as the vector itself (<c>...q_proj.lora_magnitude_vector</c>, no ".weight").</summary>
    static Dictionary<string, Tensor> AdapterTensors(LlamaForCausalLM model) =>
        model.state_dict().Where(kv => kv.Key.Contains(Projection.LoraInfix)).ToDictionary(
            kv => KeyPrefix + (kv.Key.EndsWith($".{DoraMagnitude.Name}.weight") ? kv.Key[..^".weight".Length] : kv.Key), kv => kv.Value);

    /// <summary>An adapter that records its base's fingerprint is applied only to that base, unless the caller says so.</summary>
    static void CheckBase(string folder, AdapterConfig config, LlamaForCausalLM model, bool ignoreFingerprint)
    {
        if (ignoreFingerprint || config.BaseFingerprint is not { } expected || expected == Hub.BaseFingerprint.Of(model, config.AddedTokens)) return;
        throw new SharpLMException($"{folder}: this adapter was trained on a different base model (the weights' fingerprint differs). " +
                                   "Load it on the model it was made from, or allow a base mismatch explicitly if you are sure.");
    }

    /// <summary>The rank in adapter_config.json must be the rank of the saved tensors: attaching the adapter allocates
    /// it, so an absurd r must fail before that, naming the field.</summary>
    static void CheckRank(string folder, int rank)
    {
        var weightsPath = Path.Combine(folder, WeightsFile);
        if (!File.Exists(weightsPath)) return; // reported with the weights
        using var file = SafetensorsFile.Open(weightsPath);
        foreach (var entry in file.Entries)
        {
            bool isA = entry.Name.Contains($"{Projection.LoraInfix}A."), isB = entry.Name.Contains($"{Projection.LoraInfix}B.");
            if ((isA || isB) && (entry.Shape.Count != 2 || entry.Shape[isA ? 0 : 1] != rank))
                throw new SharpLMException($"{Path.Combine(folder, ConfigFile)}: r is {rank}, but tensor {entry.Name} in {WeightsFile} " +
                                           $"has shape [{string.Join(", ", entry.Shape)}]");
        }
    }

    /// <summary>See <see cref="Hub.BaseFingerprint.Of(LlamaForCausalLM)"/>.</summary>
    public static string BaseFingerprint(LlamaForCausalLM model) => Hub.BaseFingerprint.Of(model);
}
