using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SharpLM.IO;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Hub;

/// <summary>
/// Reads Karpathy's llama2.c checkpoints in the legacy "version 0" layout (<c>stories15M.bin</c> and friends):
/// seven little-endian int32 hyper-parameters, then fp32 tensors stacked over layers in a fixed order, two
/// legacy RoPE tables, and a classifier only when the header's vocab size is negative (otherwise the classifier
/// is the token embedding). Weights are [out, in] like torch's Linear; q/k rows are converted from llama2.c's
/// interleaved rotary pairs to SharpLM's rotate-half layout (see <see cref="RopeLayout"/>), so the model computes
/// the same function as llama2.c's <c>run.c</c>.
/// </summary>
public static class Llama2cCheckpoint
{
    const int HeaderBytes = 7 * sizeof(int);

    // Later llama2.c exports (version 1 and up) start with this magic ("ak42") instead of dim.
    const uint VersionedMagic = 0x616B3432;

    /// <summary>Reads and checks the header; the returned config describes the model the file holds.</summary>
    /// <exception cref="SharpLMException">The file is missing, from another llama2.c version, or inconsistent.</exception>
    public static LlamaConfig ReadConfig(string path)
    {
        using var stream = Open(path);
        return ReadHeader(stream, path).Config;
    }

    /// <summary>Builds the model the checkpoint describes and loads its weights (fp32, eval mode).</summary>
    public static LlamaForCausalLM Load(string path)
    {
        using var stream = Open(path);
        var (config, shared) = ReadHeader(stream, path);
        var model = new LlamaForCausalLM(config);
        try
        {
            model.eval();
            ReadWeights(stream, model, shared);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static FileStream Open(string path)
    {
        return InputFile.OpenRead(path, "llama2.c checkpoint", bufferSize: 1 << 20);
    }

    static (LlamaConfig Config, bool SharedClassifier) ReadHeader(FileStream stream, string path)
    {
        if (stream.Length < HeaderBytes)
            throw new SharpLMException($"{path}: {stream.Length} bytes is too short for a llama2.c checkpoint " +
                                       $"(the header alone is {HeaderBytes} bytes)");
        var header = new byte[HeaderBytes];
        stream.ReadExactly(header);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) == VersionedMagic)
            throw new SharpLMException($"{path}: this is a llama2.c version {BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4))} " +
                                       "export (magic \"ak42\"); only the legacy version 0 layout " +
                                       "(export.py --version 0, as in the published stories*.bin) is supported");
        int Field(int index) => BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(index * 4));
        int dim = Field(0), hidden = Field(1), layers = Field(2), heads = Field(3), kvHeads = Field(4), vocab = Field(5), seqLen = Field(6);

        void Require(bool ok, string field, int value, string expected)
        {
            if (!ok) throw new SharpLMException($"{path}: header field {field} = {value} {expected}; is this a llama2.c version 0 checkpoint?");
        }
        const int limit = 1 << 20; // far beyond any real model; keeps the size arithmetic below from overflowing
        Require(dim is > 0 and < limit, "dim", dim, "must be positive");
        Require(hidden is > 0 and < limit, "hidden_dim", hidden, "must be positive");
        Require(layers is > 0 and < 4096, "n_layers", layers, "must be positive");
        Require(heads > 0 && dim % heads == 0, "n_heads", heads, $"must be positive and divide dim ({dim})");
        Require(dim / heads % 2 == 0, "n_heads", heads, $"gives an odd head size ({dim}/{heads}), which rotary embeddings cannot use");
        Require(kvHeads > 0 && heads % kvHeads == 0, "n_kv_heads", kvHeads, $"must be positive and divide n_heads ({heads})");
        Require(vocab != 0 && vocab is > -limit * 16 and < limit * 16, "vocab_size", vocab,
            "must be non-zero (negative means an untied classifier follows)");
        Require(seqLen is > 0 and < limit, "seq_len", seqLen, "must be positive");

        bool shared = vocab > 0;
        long vocabSize = Math.Abs((long)vocab), headSize = dim / heads, kvDim = headSize * kvHeads;
        long floats = vocabSize * dim
                      + layers * (2L * dim + (long)dim * dim * 2 + 2 * kvDim * dim + 3L * hidden * dim)
                      + dim
                      + seqLen * headSize // the two legacy RoPE tables, seq_len * head_size / 2 each
                      + (shared ? 0 : vocabSize * dim);
        long expected = HeaderBytes + floats * sizeof(float);
        if (stream.Length != expected)
            throw new SharpLMException($"{path}: the header (dim={dim}, hidden_dim={hidden}, n_layers={layers}, n_heads={heads}, " +
                                       $"n_kv_heads={kvHeads}, vocab_size={vocab}, seq_len={seqLen}) implies {expected:N0} bytes " +
                                       $"but the file has {stream.Length:N0}" +
                                       (stream.Length < expected ? " (truncated?)" : " (not a version 0 checkpoint, or trailing data)"));

        var config = new LlamaConfig
        {
            VocabSize = (int)vocabSize, MaxPositionEmbeddings = seqLen, HiddenSize = dim, IntermediateSize = hidden,
            NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeadsRaw = kvHeads,
            RmsNormEps = 1e-5, RopeTheta = 10_000, TieWordEmbeddings = shared,
            // llama2.c's run.c hard-codes SentencePiece's ids: 1 begins a text, 2 ends it.
            BosTokenId = 1, EosTokenId = [2],
        };
        config.Validate(path);
        config.CheckFitsInMemory(path);
        return (config, shared);
    }

    static void ReadWeights(FileStream stream, LlamaForCausalLM model, bool sharedClassifier)
    {
        var config = model.Config;
        var layers = model.model.layers;
        int n = config.NumHiddenLayers;
        using var noGrad = no_grad();
        Read(stream, model.model.embed_tokens.weight!);
        for (int i = 0; i < n; i++) Read(stream, layers[i].input_layernorm.weight);
        for (int i = 0; i < n; i++) Read(stream, layers[i].self_attn.q_proj.weight, config.NumAttentionHeads);
        for (int i = 0; i < n; i++) Read(stream, layers[i].self_attn.k_proj.weight, config.NumKeyValueHeads);
        for (int i = 0; i < n; i++) Read(stream, layers[i].self_attn.v_proj.weight);
        for (int i = 0; i < n; i++) Read(stream, layers[i].self_attn.o_proj.weight);
        for (int i = 0; i < n; i++) Read(stream, layers[i].post_attention_layernorm.weight);
        for (int i = 0; i < n; i++) Read(stream, layers[i].mlp.gate_proj.weight); // w1
        for (int i = 0; i < n; i++) Read(stream, layers[i].mlp.down_proj.weight); // w2
        for (int i = 0; i < n; i++) Read(stream, layers[i].mlp.up_proj.weight);   // w3
        Read(stream, model.model.norm.weight);
        // llama2.c recomputes RoPE itself; its legacy tables are skipped.
        stream.Seek((long)config.MaxPositionEmbeddings * config.HeadDim * sizeof(float), SeekOrigin.Current);
        if (!sharedClassifier) Read(stream, model.lm_head!.weight);
    }

    /// <summary>Fills <paramref name="target"/> from the next fp32 values; with <paramref name="ropeHeads"/>
    /// its rows are q/k rows in llama2.c's interleaved layout and are reordered to rotate-half.</summary>
    static void Read(FileStream stream, Tensor target, int? ropeHeads = null)
    {
        using var scope = NewDisposeScope();
        var values = new float[target.numel()];
        stream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan())); // .NET platforms are little-endian, like the file
        var source = tensor(values).view(target.shape);
        if (ropeHeads is { } heads) source = RopeLayout.ToRotateHalf(source, heads);
        target.copy_(source);
    }
}
