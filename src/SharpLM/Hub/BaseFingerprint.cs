using System.Security.Cryptography;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Hub;

/// <summary>
/// A short hash of a base model's architecture and the first values of every base tensor (as bf16, so the same base
/// loaded in fp32 or bf16 gives the same fingerprint). An adapter records its base's, so that it is never applied to
/// another model by mistake, and so that a moved base can be found among the folders beside the adapter.
/// </summary>
public static class BaseFingerprint
{
    const int ValuesPerTensor = 256;

    /// <summary>The fingerprint of a model in memory (its adapter tensors excluded).</summary>
    /// <param name="addedTokens">rows the model got on top of its base: the fingerprint is the base's, as on disk (the
    /// first values hashed are the first rows', which adding rows leaves alone)</param>
    public static string Of(LlamaForCausalLM model, AddedTokenRows? addedTokens = null) =>
        Hash(model.Config, addedTokens?.BaseVocabSize ?? model.Config.VocabSize, ModelFolder.BaseWeights(model).Select(kv => kv.Key), name =>
        {
            var tensor = model.state_dict()[name];
            return tensor.flatten().narrow(0, 0, Math.Min(ValuesPerTensor, tensor.numel()));
        });

    /// <summary>The fingerprint of the model in a folder, read from its files without building the model: only the
    /// first values of each tensor are read.</summary>
    public static string OfFolder(string folder)
    {
        ModelFolder.RequireModelFolder(folder);
        var config = LlamaConfig.Load(Path.Combine(folder, ModelFolder.ConfigFile));
        using var weights = ModelFolder.OpenWeights(folder);
        var names = weights.Names.Where(n => !n.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)
                                             && !(n == "lm_head.weight" && config.TieWordEmbeddings));
        // Through fp32, as the values of a loaded model went.
        return Hash(config, config.VocabSize, names, name => weights.LoadFirst(name, ValuesPerTensor).to(float32));
    }

    static string Hash(LlamaConfig c, int vocabSize, IEnumerable<string> names, Func<string, Tensor> firstValues)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes(
            $"{vocabSize}/{c.HiddenSize}/{c.IntermediateSize}/{c.NumHiddenLayers}/{c.NumAttentionHeads}/{c.NumKeyValueHeads}/{c.HeadDim}"));
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            using var scope = NewDisposeScope();
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            sha.AppendData(firstValues(name).to(bfloat16, CPU).contiguous().bytes); // a GPU model's values are read on the CPU
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }
}
