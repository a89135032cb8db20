using SharpLM.Adapters;
using SharpLM.Generation;
using SharpLM.Model;
using SharpLM.Tokenization;
using static TorchSharp.torch;

namespace SharpLM.Formats;

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
    public ITokenizer Tokenizer { get; }
    public GenerationConfig Generation { get; }

    /// <summary>Loads a model folder, or an adapter folder on top of its base.</summary>
    /// <param name="folder">a model folder, or a LoRA adapter folder (its adapter_config.json names the base)</param>
    /// <param name="adapter">a LoRA adapter folder to put on top of the model in <paramref name="folder"/></param>
    /// <param name="ignoreBaseMismatch">load an adapter even when its base fingerprint differs</param>
    public static PretrainedModel Load(string folder, ScalarType dtype = ScalarType.Float32, string? adapter = null, bool ignoreBaseMismatch = false)
    {
        if (adapter is null && AdapterFolder.IsAdapterFolder(folder) && !File.Exists(Path.Combine(folder, ModelFolder.ConfigFile)))
        {
            var (_, baseModel) = AdapterFolder.ReadConfig(folder);
            if (baseModel is null)
                throw new SharpLMException($"{folder} is a LoRA adapter without base_model_name_or_path; pass the base with --model and this folder with --adapter");
            if (!Directory.Exists(baseModel))
                throw new SharpLMException($"{folder} is a LoRA adapter for {baseModel}, which is not a folder here; pass the base with --model and this folder with --adapter");
            adapter = folder;
            folder = baseModel;
        }
        ModelFolder.RequireModelFolder(folder);
        // The adapter folder's tokenizer and generation settings win: they are what fine-tuning used.
        var settingsFolder = adapter ?? folder;
        var tokenizerPath = Path.Combine(settingsFolder, ModelFolder.TokenizerFile);
        if (!File.Exists(tokenizerPath)) tokenizerPath = Path.Combine(folder, ModelFolder.TokenizerFile);
        if (!File.Exists(tokenizerPath)) throw new SharpLMException($"{folder} has no {ModelFolder.TokenizerFile}");
        var tokenizer = TokenizerLoader.Load(tokenizerPath);
        var model = ModelFolder.Load(folder, dtype);
        try
        {
            CheckVocabulary(tokenizer, model.Config, folder);
            if (adapter is not null) AdapterFolder.Load(adapter, model, ignoreBaseMismatch);
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

    /// <summary>The LoRA adapter folder loaded on top of the base, if any.</summary>
    public string? Adapter { get; private init; }

    /// <summary>A tokenizer may not produce ids the model has no embedding for.</summary>
    public static void CheckVocabulary(ITokenizer tokenizer, LlamaConfig config, string where)
    {
        if (tokenizer.VocabSize > config.VocabSize)
            throw new SharpLMException($"{where}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {config.VocabSize}; they do not belong together");
    }

    /// <summary>Ids that end generation: the tokenizer's end token and the config's eos ids.</summary>
    public IReadOnlySet<int> StopTokens()
    {
        var stops = new HashSet<int>(Generation.EosTokenId ?? Model.Config.EosTokenId ?? []);
        if (Tokenizer.Special.Eos is { } eos) stops.Add(eos);
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

    public void Dispose() => Model.Dispose();
}
