using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpLM.Formats;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Adapters;

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

    public static bool IsAdapterFolder(string folder) => File.Exists(Path.Combine(folder, ConfigFile));

    public static void Save(string folder, LlamaForCausalLM model, LoraOptions options, string? baseModelPath)
    {
        Directory.CreateDirectory(folder);
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
            ["use_dora"] = false,
            ["use_rslora"] = options.UseRsLora,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
            [FingerprintField] = BaseFingerprint(model),
        };
        var tensors = model.state_dict().Where(kv => kv.Key.Contains(".lora_"))
            .Select(kv => new KeyValuePair<string, Tensor>(KeyPrefix + kv.Key, kv.Value)).ToList();
        if (tensors.Count == 0) throw new SharpLMException("the model has no LoRA adapter to save");
        SafetensorsWriter.Write(Path.Combine(folder, WeightsFile), tensors, SafetensorsDType.F32);
        var json = config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.Write(Path.Combine(folder, ConfigFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(json + "\n")));
    }

    /// <summary>The adapter's settings and the base model path it names (may be null).</summary>
    public static (LoraOptions Options, string? BaseModel) ReadConfig(string folder)
    {
        var path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path)) throw new SharpLMException($"{folder} is not an adapter folder: {ConfigFile} is missing");
        JsonNode root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) ?? throw new SharpLMException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{path}: invalid JSON ({e.Message})", e);
        }
        string? Str(string field) => root[field]?.GetValueKind() == JsonValueKind.String ? root[field]!.GetValue<string>() : null;
        if (Str("peft_type") is { } type && type != "LORA") throw new SharpLMException($"{path}: peft_type \"{type}\" is not supported (only LORA)");
        if (root["use_dora"]?.GetValue<bool>() == true) throw new SharpLMException($"{path}: DoRA adapters (use_dora) are not supported");
        if (Str("bias") is { } bias && bias != "none") throw new SharpLMException($"{path}: bias \"{bias}\" is not supported (only \"none\")");
        if (root["modules_to_save"] is JsonArray { Count: > 0 }) throw new SharpLMException($"{path}: modules_to_save is not supported");
        if (root["rank_pattern"] is JsonObject { Count: > 0 } || root["alpha_pattern"] is JsonObject { Count: > 0 })
            throw new SharpLMException($"{path}: per-module rank_pattern/alpha_pattern is not supported");
        if (root["layers_to_transform"] is JsonArray { Count: > 0 } or JsonValue)
            throw new SharpLMException($"{path}: layers_to_transform (adapting some layers only) is not supported; SharpLM adapts every layer");
        if (root["fan_in_fan_out"]?.GetValue<bool>() == true) throw new SharpLMException($"{path}: fan_in_fan_out adapters (GPT-2 Conv1D) are not supported");
        var rank = root["r"]?.GetValue<int>() ?? throw new SharpLMException($"{path}: field \"r\" is missing");
        var targets = root["target_modules"] switch
        {
            JsonArray a => a.Select(n => n!.GetValue<string>()).ToList(),
            JsonValue v when v.GetValueKind() == JsonValueKind.String => TargetsOfPattern(v.GetValue<string>(), path),
            _ => throw new SharpLMException($"{path}: field \"target_modules\" must be a list of module names"),
        };
        var options = new LoraOptions
        {
            Rank = rank,
            Alpha = root["lora_alpha"]?.GetValue<double>() ?? 8,
            Dropout = root["lora_dropout"]?.GetValue<double>() ?? 0,
            TargetModules = targets,
            UseRsLora = root["use_rslora"]?.GetValue<bool>() ?? false,
        };
        return (options, Str("base_model_name_or_path"));
    }

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
                throw new SharpLMException($"{path}: target_modules \"{pattern}\" adapts {target} in some layers only; SharpLM adapts a projection in every layer or none");
        }
        if (targets.Count == 0) throw new SharpLMException($"{path}: target_modules \"{pattern}\" matches none of SharpLM's projections ({string.Join(", ", LoraOptions.AllTargets)}, lm_head)");
        return targets;
    }

    /// <summary>Attaches the adapter saved in <paramref name="folder"/> to <paramref name="model"/> and loads its
    /// weights. Fails clearly when it was made for another base (fingerprint, module names or shapes).</summary>
    public static LoraOptions Load(string folder, LlamaForCausalLM model, bool ignoreFingerprint = false)
    {
        var (options, _) = ReadConfig(folder);
        var configPath = Path.Combine(folder, ConfigFile);
        var expectedFingerprint = JsonNode.Parse(File.ReadAllText(configPath))?[FingerprintField]?.GetValue<string>();
        if (!ignoreFingerprint && expectedFingerprint is not null && expectedFingerprint != BaseFingerprint(model))
            throw new SharpLMException($"{folder}: this adapter was trained on a different base model (the weights' fingerprint differs). " +
                                       "Load it on the model it was made from, or pass --ignore-base-mismatch if you are sure.");
        Lora.Apply(model, options with { Dropout = 0 }, seed: 0);
        try
        {
            LoadWeightsInto(folder, model);
        }
        catch
        {
            Lora.Remove(model);
            throw;
        }
        return options;
    }

    /// <summary>Copies the adapter tensors saved in <paramref name="folder"/> into the adapters already attached to
    /// <paramref name="model"/>; names and shapes must match exactly.</summary>
    public static void LoadWeightsInto(string folder, LlamaForCausalLM model)
    {
        var weightsPath = Path.Combine(folder, WeightsFile);
        if (!File.Exists(weightsPath)) throw new SharpLMException($"{folder}: {WeightsFile} is missing");
        using var file = SafetensorsFile.Open(weightsPath);
        var expected = model.state_dict().Where(kv => kv.Key.Contains(".lora_")).ToDictionary(kv => KeyPrefix + kv.Key, kv => kv.Value);
        // PEFT in memory names adapters ("lora_A.default.weight"); files normally drop the name, but accept both.
        var available = file.Entries.ToDictionary(e => e.Name.Replace(".default.", "."), e => e.Name);
        var missing = expected.Keys.Where(k => !available.ContainsKey(k)).ToList();
        var unexpected = available.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new SharpLMException($"{folder}: the adapter does not fit this model." +
                                       (missing.Count > 0 ? $" Missing: {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? $" and {missing.Count - 5} more" : "")}." : "") +
                                       (unexpected.Count > 0 ? $" Not in this model: {string.Join(", ", unexpected.Take(5))}{(unexpected.Count > 5 ? $" and {unexpected.Count - 5} more" : "")}." : ""));
        using var noGrad = no_grad();
        foreach (var (key, target) in expected)
        {
            var entry = file.GetEntry(available[key]);
            if (!entry.Shape.SequenceEqual(target.shape))
                throw new SharpLMException($"{folder}: tensor {key} has shape [{string.Join(", ", entry.Shape)}] but this model needs [{string.Join(", ", target.shape)}]; the adapter belongs to another base model");
            using var loaded = file.Load(entry.Name, target.dtype);
            target.copy_(loaded);
        }
    }

    /// <summary>A short hash of the base model's architecture and the first values of every base tensor (as bf16,
    /// so the same base loaded in fp32 or bf16 gives the same fingerprint).</summary>
    public static string BaseFingerprint(LlamaForCausalLM model)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var c = model.Config;
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{c.VocabSize}/{c.HiddenSize}/{c.IntermediateSize}/{c.NumHiddenLayers}/{c.NumAttentionHeads}/{c.NumKeyValueHeads}/{c.HeadDim}"));
        foreach (var (name, tensor) in ModelFolder.BaseWeights(model).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            using var scope = NewDisposeScope();
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            var head = tensor.flatten().narrow(0, 0, Math.Min(256, tensor.numel())).to(bfloat16).contiguous();
            sha.AppendData(head.bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }
}
