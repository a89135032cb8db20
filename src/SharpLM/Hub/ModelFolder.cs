using SharpLM.Formats;
using SharpLM.Generation;
using SharpLM.IO;
using SharpLM.Model;
using SharpLM.Tokenization;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Hub;

/// <summary>
/// A model in Hugging Face's folder layout: <c>config.json</c>, <c>model.safetensors</c> (or shards with
/// <c>model.safetensors.index.json</c>), <c>tokenizer.json</c>, <c>generation_config.json</c>.
/// </summary>
public static class ModelFolder
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";
    public const string TokenizerFile = TokenizerJson.FileName;
    public const string GenerationConfigFile = "generation_config.json";

    /// <summary>Files a model folder may carry that SharpLM does not rebuild from the model and tokenizer objects:
    /// chat templates (Hugging Face's and SharpLM's), special-token declarations, a SentencePiece model. Saving a
    /// model made from another folder copies them over (<see cref="CopyCompanionFiles"/>), so a merged or fine-tuned
    /// model keeps its template and token roles.</summary>
    public static IReadOnlyList<string> CompanionFiles { get; } =
    [
        TokenizerConfigFile.FileName, "special_tokens_map.json", "added_tokens.json", "chat_template.jinja", "chat_template.json",
        "tokenizer.model", Chat.PartsChatTemplate.FileName,
    ];

    /// <summary>Checkpoints that hold the whole model in Hugging Face layout, with its tokenizer and generation defaults.</summary>
    public static CheckpointManager.ModelContent CheckpointContent(ITokenizer? tokenizer, GenerationConfig? generation = null,
        ModelSaveOptions? options = null) =>
        new((folder, model) => Save(folder, model, tokenizer, generation, options), (folder, model) => LoadWeightsInto(model, folder));

    /// <summary>Writes the model (without any adapter tensors), its tokenizer and generation defaults into
    /// <paramref name="folder"/> (created if needed). Each file is replaced atomically; the weights are written in
    /// <paramref name="options"/>' tensor type, sharded as transformers does when larger than its maximum shard size
    /// (see <see cref="ShardedSafetensorsWriter"/>).</summary>
    public static void Save(string folder, LlamaForCausalLM model, ITokenizer? tokenizer, GenerationConfig? generation = null,
        ModelSaveOptions? options = null)
    {
        options ??= new ModelSaveOptions();
        options.Validate();
        Directory.CreateDirectory(folder);
        var config = model.Config.Clone();
        config.TorchDtype = options.TorchDtype;
        if (tokenizer is not null)
        {
            config.BosTokenId ??= tokenizer.Special.Bos;
            config.EosTokenId ??= tokenizer.Special.Eos is { } eos ? [eos] : null;
            config.PadTokenId ??= tokenizer.Special.Pad;
        }
        WriteText(Path.Combine(folder, ConfigFile), config.ToJson());
        ShardedSafetensorsWriter.Write(folder, WeightsFile, InHuggingFaceOrder(BaseWeights(model)), options.DType, options.MaxShardBytes);
        tokenizer?.Save(Path.Combine(folder, tokenizer.FileName));
        generation ??= new GenerationConfig();
        generation.BosTokenId ??= config.BosTokenId;
        generation.EosTokenId ??= config.EosTokenId;
        generation.PadTokenId ??= config.PadTokenId;
        WriteText(Path.Combine(folder, GenerationConfigFile), generation.ToJson());
    }

    /// <summary>Copies each of <see cref="CompanionFiles"/> that <paramref name="to"/> lacks from the first of
    /// <paramref name="sources"/> that has it (e.g. an adapter folder, then its base).</summary>
    public static void CopyCompanionFiles(string to, params IEnumerable<string?> sources)
    {
        Directory.CreateDirectory(to);
        foreach (var file in CompanionFiles)
        {
            var target = Path.Combine(to, file);
            if (File.Exists(target)) continue;
            foreach (var source in sources)
            {
                if (source is null) continue;
                var path = Path.Combine(source, file);
                if (!File.Exists(path)) continue;
                AtomicFile.Write(target, s => { using var input = File.OpenRead(path); input.CopyTo(s); });
                break;
            }
        }
    }

    /// <summary>The model's own tensors by Hugging Face name (adapter tensors excluded).</summary>
    public static IEnumerable<KeyValuePair<string, Tensor>> BaseWeights(LlamaForCausalLM model) =>
        model.state_dict().Where(kv => !IsAdapterTensor(kv.Key));

    static bool IsAdapterTensor(string name) => name.Contains(Projection.LoraInfix);

    /// <summary>transformers' module order (embedding; per layer attention q/k/v/o, MLP gate/up/down, the two norms;
    /// final norm; head), which decides where shards split.</summary>
    static List<KeyValuePair<string, Tensor>> InHuggingFaceOrder(IEnumerable<KeyValuePair<string, Tensor>> weights)
    {
        string[] layerOrder =
        [
            "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm",
        ];
        (int, int, int) Key(string name)
        {
            if (name.StartsWith("model.embed_tokens.", StringComparison.Ordinal)) return (0, 0, 0);
            if (name.StartsWith("model.layers.", StringComparison.Ordinal))
            {
                var rest = name["model.layers.".Length..];
                int dot = rest.IndexOf('.');
                int part = Array.FindIndex(layerOrder, p => rest[(dot + 1)..].StartsWith(p + ".", StringComparison.Ordinal));
                return (1, int.Parse(rest[..dot], System.Globalization.CultureInfo.InvariantCulture), part < 0 ? layerOrder.Length : part);
            }
            return name.StartsWith("model.norm.", StringComparison.Ordinal) ? (2, 0, 0) : (3, 0, 0);
        }
        return weights.OrderBy(kv => Key(kv.Key)).ToList(); // stable: ties keep the model's order
    }

    /// <summary>Builds the model described by the folder's config.json and loads its weights
    /// (converted to <paramref name="dtype"/>), one tensor at a time.</summary>
    public static LlamaForCausalLM Load(string folder, ScalarType dtype = ScalarType.Float32)
    {
        RequireModelFolder(folder);
        string configPath = Path.Combine(folder, ConfigFile);
        var config = LlamaConfig.Load(configPath);
        using var weights = OpenWeights(folder);
        // Nothing is allocated until the config is known to describe these weights and to fit in memory.
        WeightsMatchConfig.Check(config, weights.Names.ToHashSet(), weights.Entry, configPath);
        config.CheckFitsInMemory(configPath);
        var model = new LlamaForCausalLM(config);
        try
        {
            LoadWeightsInto(model, folder, weights);
            if (dtype != ScalarType.Float32) model.to(dtype);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Throws a clear error unless the folder has a config and weights.</summary>
    public static void RequireModelFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw new SharpLMException($"model folder not found: {folder}");
        if (!Exists(Path.Combine(folder, ConfigFile)))
            throw new SharpLMException($"{folder} is not a model folder: {ConfigFile} is missing");
        if (!Exists(Path.Combine(folder, WeightsFile)) && !Exists(Path.Combine(folder, IndexFile)))
            throw new SharpLMException($"{folder} has no weights: expected {WeightsFile} or {IndexFile}");
    }

    /// <summary>Copies every tensor of the folder's weights into the model's parameters, checking that names and
    /// shapes match exactly (missing and unexpected tensors are listed).</summary>
    public static void LoadWeightsInto(LlamaForCausalLM model, string folder)
    {
        RequireModelFolder(folder);
        using var weights = OpenWeights(folder);
        LoadWeightsInto(model, folder, weights);
    }

    static void LoadWeightsInto(LlamaForCausalLM model, string folder, WeightSource weights)
    {
        var targets = BaseWeights(model).ToDictionary(kv => kv.Key, kv => kv.Value);
        var available = weights.Names.ToHashSet();
        // Derived tensors some exporters write; a tied head may also be stored explicitly.
        available.RemoveWhere(n => n.EndsWith("rotary_emb.inv_freq") ||
                                   (n == "lm_head.weight" && model.Config.TieWordEmbeddings));
        var missing = targets.Keys.Where(k => !available.Contains(k)).Order().ToList();
        var unexpected = available.Where(k => !targets.ContainsKey(k)).Order().ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new SharpLMException($"{folder}: the weights do not match config.json ({model.Config.NumHiddenLayers} layers, " +
                                       $"tie_word_embeddings={model.Config.TieWordEmbeddings})." +
                                       (missing.Count > 0 ? $" Missing: {Summarize(missing)}." : "") +
                                       (unexpected.Count > 0 ? $" Unexpected: {Summarize(unexpected)}." : ""));
        using var noGrad = no_grad();
        foreach (var (name, target) in targets)
        {
            using var scope = NewDisposeScope();
            var entry = weights.Entry(name);
            if (!entry.Shape.SequenceEqual(target.shape))
                throw new SharpLMException($"{folder}: tensor {name} has shape [{string.Join(", ", entry.Shape)}], " +
                                           $"the config implies [{string.Join(", ", target.shape)}]");
            // An integer tensor would be converted value by value into nonsense weights.
            if (!entry.DType.IsFloatingPoint())
                throw new SharpLMException($"{folder}: tensor {name} is stored as {entry.DType}; model weights must be floating point " +
                                           "(F16, BF16, F32 or F64)");
            target.copy_(weights.Load(name, target.dtype));
        }
    }

    // A folder or FIFO in a file's place counts as there, so that reading it fails with the reason.
    static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    static string Summarize(List<string> names) =>
        string.Join(", ", names.Take(8)) + (names.Count > 8 ? $" and {names.Count - 8} more" : "");

    static void WriteText(string path, string text) =>
        AtomicFile.Write(path, s => s.Write(System.Text.Encoding.UTF8.GetBytes(text + "\n")));

    /// <summary>The folder's weights, single file or sharded, behind one interface.</summary>
    internal static WeightSource OpenWeights(string folder) =>
        Exists(Path.Combine(folder, WeightsFile))
            ? new WeightSource(SafetensorsFile.Open(Path.Combine(folder, WeightsFile)), null)
            : new WeightSource(null, SafetensorsIndex.Open(Path.Combine(folder, IndexFile)));

    internal sealed class WeightSource(SafetensorsFile? single, SafetensorsIndex? sharded) : IDisposable
    {
        public IEnumerable<string> Names => single?.Entries.Select(e => e.Name) ?? sharded!.Names;
        public SafetensorsEntry Entry(string name) => single?.GetEntry(name) ?? sharded!.GetEntry(name);
        public Tensor Load(string name, ScalarType dtype) => single?.Load(name, dtype) ?? sharded!.Load(name, dtype);
        public Tensor LoadFirst(string name, long count) => single?.LoadFirst(name, count) ?? sharded!.LoadFirst(name, count);

        public void Dispose()
        {
            single?.Dispose();
            sharded?.Dispose();
        }
    }
}
