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

    public static PretrainedModel Load(string folder, ScalarType dtype = ScalarType.Float32)
    {
        ModelFolder.RequireModelFolder(folder);
        var tokenizerPath = Path.Combine(folder, ModelFolder.TokenizerFile);
        if (!File.Exists(tokenizerPath)) throw new SharpLMException($"{folder} has no {ModelFolder.TokenizerFile}");
        var tokenizer = TokenizerLoader.Load(tokenizerPath);
        var model = ModelFolder.Load(folder, dtype);
        CheckVocabulary(tokenizer, model.Config, folder);
        var generationPath = Path.Combine(folder, ModelFolder.GenerationConfigFile);
        var generation = File.Exists(generationPath) ? GenerationConfig.Load(generationPath) : new GenerationConfig();
        return new PretrainedModel(folder, model, tokenizer, generation);
    }

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

    public void Dispose() => Model.Dispose();
}
