using SharpLM.Adapters;
using SharpLM.Chat;
using SharpLM.Formats;
using SharpLM.Model;
using SharpLM.Tokenization;
using static TorchSharp.torch;

namespace SharpLM.Hub;

/// <summary>
/// Exports a Llama-architecture SharpLM model folder as a GGUF file for llama.cpp (and LLamaSharp, Ollama, ...):
/// <c>general.architecture = "llama"</c>, the <c>llama.*</c> hyper-parameters, llama.cpp's tensor names, and the
/// tokenizer. llama.cpp's llama architecture rotates interleaved RoPE pairs, so q/k weights are reordered from
/// SharpLM's rotate-half layout per head (<see cref="RopeLayout.ToInterleaved"/>, the permutation llama.cpp's own
/// Hugging Face converter applies). Norm weights are always F32; a tensor whose rows do not fit Q8_0's blocks of
/// 32 is stored as F16 instead. RoPE scaling goes where llama.cpp reads it: linear as
/// <c>llama.rope.scaling.type/factor</c>, llama3 as the per-frequency divisors of a <c>rope_freqs.weight</c> tensor.
/// Qwen2 and Qwen3 models become llama.cpp's <c>qwen2</c> / <c>qwen3</c> architectures instead: their RoPE is
/// rotate-half, so q/k stay as they are; Qwen2's q/k/v biases are written as <c>attn_*.bias</c>, Qwen3's query/key
/// norms as <c>attn_q_norm</c> / <c>attn_k_norm</c>.
/// </summary>
public static class GgufExporter
{
    /// <summary>Reads the model folder (weights and tokenizer), or a LoRA adapter folder merged into the base it names,
    /// and writes <paramref name="output"/> atomically.</summary>
    /// <exception cref="SharpLMException">The folder is not a model or adapter folder, has no tokenizer, or the output
    /// exists and <paramref name="overwrite"/> is false.</exception>
    /// <param name="adapterBase">for an adapter folder, its base model folder when found elsewhere than the adapter's
    /// config says (a Hub id's snapshot); null to let <see cref="AdapterBase"/> find it</param>
    public static void Export(string modelFolder, string output, GgufTensorType type, bool overwrite = false, string? adapterBase = null)
    {
        if (File.Exists(output) && !overwrite) throw new SharpLMException($"{output} already exists; set overwrite to replace it");
        if (Directory.Exists(output)) throw new SharpLMException($"{output} is a folder; the output must be a .gguf file path");
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder)));
        if (AdapterFolder.IsAdapterFolder(modelFolder) && !File.Exists(Path.Combine(modelFolder, ModelFolder.ConfigFile)))
        {
            // llama.cpp runs one set of weights: fold the adapter in, as `sharplm merge` would.
            using var adapted = adapterBase is null ? PretrainedModel.Load(modelFolder) : PretrainedModel.Load(adapterBase, adapter: modelFolder);
            Lora.Merge(adapted.Model);
            var template = ChatTemplates.LoadFromModel(modelFolder) ?? ChatTemplates.LoadFromModel(adapted.Folder);
            Export(adapted.Model, adapted.Tokenizer, output, type, name, template?.JinjaTemplate);
            return;
        }
        ModelFolder.RequireModelFolder(modelFolder);
        if (!File.Exists(Path.Combine(modelFolder, ModelFolder.TokenizerFile))
            && !File.Exists(Path.Combine(modelFolder, Llama2cTokenizerFile.DefaultFileName)))
            throw new SharpLMException($"{modelFolder} has no tokenizer ({ModelFolder.TokenizerFile}, or the " +
                                       $"{Llama2cTokenizerFile.DefaultFileName} that a llama2.c import writes with its tokenizer); " +
                                       "a GGUF file must carry the vocabulary for llama.cpp to run it");
        var tokenizer = TokenizerLoader.Load(modelFolder);
        using var model = ModelFolder.Load(modelFolder);
        Export(model, tokenizer, output, type, name, ChatTemplates.LoadFromModel(modelFolder)?.JinjaTemplate);
    }

    /// <summary>Writes <paramref name="model"/> with <paramref name="tokenizer"/> as a GGUF file (replacing any file there).
    /// <paramref name="chatTemplate"/> (Jinja) becomes <c>tokenizer.chat_template</c>, which llama.cpp and Ollama use to
    /// format chats.</summary>
    public static void Export(LlamaForCausalLM model, ITokenizer tokenizer, string output, GgufTensorType type, string name = "SharpLM model",
        string? chatTemplate = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var config = model.Config;
        // Qwen2 and Qwen3 are llama.cpp architectures of their own (q/k/v biases; query/key norms) that rotate in
        // Hugging Face's rotate-half layout, so their q/k weights stay as they are.
        string arch = config.ModelType is "qwen2" or "qwen3" ? config.ModelType : "llama";
        bool rotateHalf = arch != "llama";
        if (config.MlpBias || config.AttentionBias)
            throw new SharpLMException("attention_bias / mlp_bias models cannot be exported to GGUF yet " +
                                       "(llama.cpp's llama architecture would need its q/k biases reordered)");
        var writer = new GgufWriter();
        writer.Add("general.architecture", arch);
        writer.Add("general.name", name);
        writer.Add("general.file_type", type switch { GgufTensorType.F32 => 0u, GgufTensorType.F16 => 1u, _ => 7u });
        if (type == GgufTensorType.Q8_0) writer.Add("general.quantization_version", 2u); // ggml's current quantisation version
        AddHyperParameters(writer, config, arch);
        GgufTokenizerMetadata.Add(writer, tokenizer, config.VocabSize);
        if (chatTemplate is not null) writer.Add("tokenizer.chat_template", chatTemplate);

        void Matrix(string ggufName, Tensor weight) =>
            writer.AddTensor(ggufName, weight, weight.shape[^1] % type.BlockSize() == 0 ? type : GgufTensorType.F16);
        void Norm(string ggufName, Tensor weight) => writer.AddTensor(ggufName, weight, GgufTensorType.F32);

        var m = model.model;
        Matrix("token_embd.weight", m.embed_tokens.weight!);
        for (int i = 0; i < m.layers.Count; i++)
        {
            var layer = m.layers[i];
            string block = $"blk.{i}.";
            Norm(block + "attn_norm.weight", layer.input_layernorm.weight);
            var attention = layer.self_attn;
            Matrix(block + "attn_q.weight",
                rotateHalf ? attention.q_proj.weight : RopeLayout.ToInterleaved(attention.q_proj.weight, config.NumAttentionHeads));
            Matrix(block + "attn_k.weight",
                rotateHalf ? attention.k_proj.weight : RopeLayout.ToInterleaved(attention.k_proj.weight, config.NumKeyValueHeads));
            Matrix(block + "attn_v.weight", attention.v_proj.weight);
            if (attention.q_norm is not null)
            {
                Norm(block + "attn_q_norm.weight", attention.q_norm.weight);
                Norm(block + "attn_k_norm.weight", attention.k_norm!.weight);
            }
            if (config.QkvBias)
            {
                Norm(block + "attn_q.bias", attention.q_proj.bias!);
                Norm(block + "attn_k.bias", attention.k_proj.bias!);
                Norm(block + "attn_v.bias", attention.v_proj.bias!);
            }
            Matrix(block + "attn_output.weight", layer.self_attn.o_proj.weight);
            Norm(block + "ffn_norm.weight", layer.post_attention_layernorm.weight);
            Matrix(block + "ffn_gate.weight", layer.mlp.gate_proj.weight);
            Matrix(block + "ffn_up.weight", layer.mlp.up_proj.weight);
            Matrix(block + "ffn_down.weight", layer.mlp.down_proj.weight);
        }
        Norm("output_norm.weight", m.norm.weight);
        if (config.Rope() is { Type: RopeFrequencies.Llama3 } llama3)
            writer.AddTensor("rope_freqs.weight", FrequencyDivisors(llama3, config.HeadDim), GgufTensorType.F32);
        if (model.lm_head is { } head) Matrix("output.weight", head.weight); // absent = tied: llama.cpp reuses token_embd
        writer.Write(output);
    }

    /// <summary>llama.cpp divides each default frequency by its factor: default / scaled.</summary>
    static Tensor FrequencyDivisors(RopeFrequencies scaled, int headDim)
    {
        var unscaled = new RopeFrequencies { Theta = scaled.Theta };
        return unscaled.InverseFrequencies(headDim) / scaled.InverseFrequencies(headDim);
    }

    /// <summary>The <c>{arch}.*</c> keys. Mistral configs are accepted only without an effective sliding window, and
    /// llama.cpp converts those as llama too.</summary>
    static void AddHyperParameters(GgufWriter writer, LlamaConfig config, string arch)
    {
        var rope = config.Rope();
        writer.Add($"{arch}.vocab_size", (uint)config.VocabSize);
        writer.Add($"{arch}.context_length", (uint)config.MaxPositionEmbeddings);
        writer.Add($"{arch}.embedding_length", (uint)config.HiddenSize);
        writer.Add($"{arch}.block_count", (uint)config.NumHiddenLayers);
        writer.Add($"{arch}.feed_forward_length", (uint)config.IntermediateSize);
        writer.Add($"{arch}.attention.head_count", (uint)config.NumAttentionHeads);
        writer.Add($"{arch}.attention.head_count_kv", (uint)config.NumKeyValueHeads);
        writer.Add($"{arch}.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps);
        writer.Add($"{arch}.rope.dimension_count", (uint)config.HeadDim);
        writer.Add($"{arch}.rope.freq_base", (float)rope.Theta);
        if (rope.Type == RopeFrequencies.Linear)
        {
            writer.Add($"{arch}.rope.scaling.type", "linear");
            writer.Add($"{arch}.rope.scaling.factor", (float)rope.Factor);
        }
        if (config.HeadDim * config.NumAttentionHeads != config.HiddenSize)
        {
            // An explicit head_dim: llama.cpp would otherwise derive hidden / heads.
            writer.Add($"{arch}.attention.key_length", (uint)config.HeadDim);
            writer.Add($"{arch}.attention.value_length", (uint)config.HeadDim);
        }
    }
}
