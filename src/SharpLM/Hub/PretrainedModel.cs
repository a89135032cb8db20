using SharpLM.Adapters;
using SharpLM.Generation;
using SharpLM.IO;
using SharpLM.Model;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Hub;

/// <summary>A model folder opened for use: the model, its tokenizer and its generation defaults, checked to fit together.</summary>
public sealed class PretrainedModel : IDisposable
{
    PretrainedModel(string folder, LlamaForCausalLM model, ITokenizer tokenizer, GenerationConfig generation)
    {
        Folder = folder;
        Model = model;
        Tokenizer = tokenizer;
        Generation = generation;
    }

    public string Folder { get; }
    public LlamaForCausalLM Model { get; }
    public ITokenizer Tokenizer { get; private set; }
    public GenerationConfig Generation { get; }

    /// <summary>The rows added to the model by <see cref="AddSpecialTokens"/>; null when none.</summary>
    public AddedTokenRows? AddedTokens { get; private set; }

    /// <summary>Loads a model folder, or an adapter folder on top of its base.</summary>
    /// <param name="folder">a model folder, or a LoRA adapter folder (its adapter_config.json names the base)</param>
    /// <param name="adapter">a LoRA adapter folder to put on top of the model in <paramref name="folder"/></param>
    /// <param name="ignoreBaseMismatch">load an adapter even when its base fingerprint differs</param>
    /// <param name="device">where the model runs (<see cref="Runtime.ComputeDevice.Open"/>); null = the CPU. The weights are read on
    /// the CPU and then moved there.</param>
    public static PretrainedModel Load(string folder, ScalarType dtype = ScalarType.Float32, string? adapter = null, bool ignoreBaseMismatch = false,
        Device? device = null)
    {
        if (device is not null) Runtime.ComputeDevice.RequireAvailable(device); // before anything is read
        if (adapter is null && AdapterFolder.IsAdapterFolder(folder) && !File.Exists(Path.Combine(folder, ModelFolder.ConfigFile)))
        {
            adapter = folder;
            folder = AdapterBase.Resolve(folder);
        }
        ModelFolder.RequireModelFolder(folder);
        // The adapter folder's tokenizer and generation settings win: they are what fine-tuning used.
        var settingsFolder = adapter ?? folder;
        var tokenizer = LoadTokenizer(settingsFolder) ?? LoadTokenizer(folder)
            ?? throw new SharpLMException($"{folder} has no tokenizer: expected {ModelFolder.TokenizerFile} " +
                                          $"(or the {Llama2cTokenizerFile.DefaultFileName} a llama2.c import writes)");
        var model = ModelFolder.Load(folder, dtype);
        try
        {
            if (adapter is not null) AdapterFolder.Load(adapter, model, ignoreBaseMismatch); // may add token rows first
            CheckVocabulary(tokenizer, model.Config, adapter ?? folder);
            if (device is not null) model.to(device);
            model.eval();
        }
        catch
        {
            model.Dispose();
            throw;
        }
        var generationPath = Path.Combine(settingsFolder, ModelFolder.GenerationConfigFile);
        if (!File.Exists(generationPath)) generationPath = Path.Combine(folder, ModelFolder.GenerationConfigFile);
        var generation = File.Exists(generationPath) ? GenerationConfig.Load(generationPath) : new GenerationConfig();
        return new PretrainedModel(folder, model, tokenizer, generation) { Adapter = adapter };
    }

    /// <summary>The folder's tokenizer.json, else the llama2.c tokenizer.bin that importing a llama2.c model writes; null when neither.</summary>
    static ITokenizer? LoadTokenizer(string folder)
    {
        string json = Path.Combine(folder, ModelFolder.TokenizerFile), bin = Path.Combine(folder, Llama2cTokenizerFile.DefaultFileName);
        if (File.Exists(json) || Directory.Exists(json))
        {
            InputFile.RequireRegular(json, "tokenizer"); // a folder here would be searched for a tokenizer of its own
            return TokenizerLoader.Load(json);
        }
        return File.Exists(bin) || Directory.Exists(bin) ? Llama2cTokenizer.Load(bin) : null;
    }

    /// <summary>The LoRA adapter folder loaded on top of the base, if any.</summary>
    public string? Adapter { get; private init; }

    /// <summary>Adds <paramref name="tokens"/> to the tokenizer as special tokens and gives the model their embedding
    /// and head rows (see <see cref="AddedTokenRows"/>), before fine-tuning teaches it to use them.</summary>
    /// <returns>false, changing nothing, when the tokenizer's kind cannot take added tokens</returns>
    public bool AddSpecialTokens(IReadOnlyList<string> tokens)
    {
        if (Adapter is not null) throw new SharpLMException($"{Adapter}: cannot add tokens to a model with an adapter loaded");
        if (AddedTokens is not null) throw new SharpLMException($"{Folder}: tokens were already added");
        if (Tokenizer.WithAddedSpecialTokens(tokens) is not { } extended) return false;
        var rows = new AddedTokenRows(Tokenizer.VocabSize, tokens.Count, Model.Config.VocabSize);
        rows.ApplyTo(Model);
        Tokenizer = extended;
        AddedTokens = rows;
        return true;
    }

    /// <summary>A tokenizer may not produce ids the model has no embedding for.</summary>
    public static void CheckVocabulary(ITokenizer tokenizer, LlamaConfig config, string where)
    {
        if (tokenizer.VocabSize > config.VocabSize)
            throw new SharpLMException($"{where}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {config.VocabSize}; " +
                                       "they do not belong together");
    }

    /// <summary>Ids that end generation: the tokenizer's end token, the config's eos ids, and the special tokens that
    /// end <paramref name="template"/>'s answers.</summary>
    public IReadOnlySet<int> StopTokens(Chat.ChatTemplate? template = null)
    {
        var stops = new HashSet<int>(Generation.EosTokenId ?? Model.Config.EosTokenId ?? []);
        if (Tokenizer.Special.Eos is { } eos) stops.Add(eos);
        if (template is not null) stops.UnionWith(template.StopTokenIds(Tokenizer));
        return stops;
    }

    /// <summary>Prompt ids: the begin token (when the tokenizer has one) followed by the encoded text.</summary>
    public int[] EncodePrompt(string text, bool addBos = true)
    {
        var ids = Tokenizer.Encode(text);
        return addBos && Tokenizer.Special.Bos is { } bos ? [bos, .. ids] : ids;
    }

    /// <summary>The id clients see: the adapter's folder when one is loaded, else the model's (see <see cref="IdOf"/>).</summary>
    public string Id => IdOf(Adapter ?? Folder);

    /// <summary>A folder's name, with its parent's for the run folders SharpLM writes ("demo-ft/final", not "final"):
    /// the model id of both <c>sharplm serve</c> and the IChatClient.</summary>
    public static string IdOf(string folder)
    {
        var path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        var name = Path.GetFileName(path);
        bool runOutput = name == "final" || name.StartsWith("checkpoint-", StringComparison.Ordinal);
        return runOutput && Path.GetFileName(Path.GetDirectoryName(path)) is { Length: > 0 } parent ? $"{parent}/{name}" : name;
    }

    /// <summary>For generation with a quarter of the weight memory: merges the adapter (if any) into the base, then keeps
    /// the projections in 8 bits (<see cref="LlamaForCausalLM.QuantizeForInference"/>). Returns how many were quantised.</summary>
    public int QuantizeForInference()
    {
        if (Lora.Adapters(Model).Any()) Lora.Merge(Model);
        return Model.QuantizeForInference();
    }

    public void Dispose() => Model.Dispose();
}
