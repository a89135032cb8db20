using System.Globalization;
using SharpLM.Formats;
using SharpLM.Model;

namespace SharpLM.Hub;

/// <summary>
/// Checks config.json against the tensor shapes in the safetensors headers before the model is built: building
/// allocates what the config says, so a config with 10^6 layers or a head_dim of 10^6 must fail here, naming the
/// field, rather than exhaust memory. Missing or extra tensors are reported later, all together, by the loader.
/// </summary>
static class WeightsMatchConfig
{
    const string LayerPrefix = "model.layers.";

    public static void Check(LlamaConfig c, IReadOnlyCollection<string> names, Func<string, SafetensorsEntry> entry, string configPath)
    {
        void Expect(string name, string fields, params long[] expected)
        {
            if (!names.Contains(name)) return;
            var shape = entry(name).Shape;
            if (!shape.SequenceEqual(expected))
                throw new SharpLMException($"{configPath}: {fields} imply {name} of shape [{string.Join(", ", expected)}], " +
                                           $"but the weights hold [{string.Join(", ", shape)}]");
        }
        Expect("model.embed_tokens.weight", $"vocab_size ({c.VocabSize}) and hidden_size ({c.HiddenSize})", c.VocabSize, c.HiddenSize);
        Expect("lm_head.weight", $"vocab_size ({c.VocabSize}) and hidden_size ({c.HiddenSize})", c.VocabSize, c.HiddenSize);

        int layers = names.Select(LayerIndex).Where(i => i >= 0).Distinct().Count();
        if (layers != c.NumHiddenLayers)
            throw new SharpLMException($"{configPath}: num_hidden_layers is {c.NumHiddenLayers}, but the weights hold {layers} layers" +
                                       (layers < c.NumHiddenLayers
                                           ? $". Missing: {LayerPrefix}{layers}.*" +
                                             (c.NumHiddenLayers - layers > 1 ? $" to {LayerPrefix}{c.NumHiddenLayers - 1}.*" : "")
                                           : ""));

        long heads = (long)c.NumAttentionHeads * c.HeadDim, kvHeads = (long)c.NumKeyValueHeads * c.HeadDim;
        string attention = $"num_attention_heads ({c.NumAttentionHeads}) x head_dim ({c.HeadDim}) and hidden_size ({c.HiddenSize})";
        string keyValue = $"num_key_value_heads ({c.NumKeyValueHeads}) x head_dim ({c.HeadDim}) and hidden_size ({c.HiddenSize})";
        string mlp = $"intermediate_size ({c.IntermediateSize}) and hidden_size ({c.HiddenSize})";
        Expect($"{LayerPrefix}0.self_attn.q_proj.weight", attention, heads, c.HiddenSize);
        Expect($"{LayerPrefix}0.self_attn.o_proj.weight", attention, c.HiddenSize, heads);
        Expect($"{LayerPrefix}0.self_attn.k_proj.weight", keyValue, kvHeads, c.HiddenSize);
        Expect($"{LayerPrefix}0.mlp.gate_proj.weight", mlp, c.IntermediateSize, c.HiddenSize);
        Expect($"{LayerPrefix}0.mlp.down_proj.weight", mlp, c.HiddenSize, c.IntermediateSize);
    }

    /// <summary>N of <c>model.layers.N.…</c>, or -1 for other names.</summary>
    static int LayerIndex(string name)
    {
        if (!name.StartsWith(LayerPrefix, StringComparison.Ordinal)) return -1;
        var rest = name.AsSpan(LayerPrefix.Length);
        int dot = rest.IndexOf('.');
        return dot > 0 && int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int index) ? index : -1;
    }
}
