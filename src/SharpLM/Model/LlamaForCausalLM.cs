using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>The decoder stack: token embedding, layers, final norm (Hugging Face's <c>model.*</c> tensors).</summary>
public sealed class LlamaModel : nn.Module
{
    public readonly Embedding embed_tokens;
    public readonly ModuleList<DecoderLayer> layers;
    public readonly RmsNorm norm;
    public readonly RotaryEmbedding rotary_emb;

    public LlamaModel(LlamaConfig config) : base("LlamaModel")
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<DecoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new DecoderLayer(config, i)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        rotary_emb = new RotaryEmbedding(config.HeadDim, config.MaxPositionEmbeddings, config.Rope());
        RegisterComponents();
    }
}

/// <summary>
/// A Llama-style decoder-only language model with a language-modelling head. Module field names follow
/// Hugging Face's tensor names (<c>model.layers.0.self_attn.q_proj.weight</c>, <c>lm_head.weight</c>), so the
/// state dict is a Hugging Face checkpoint as is.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module<Tensor, Tensor>
{
    public readonly LlamaModel model;
    public readonly Projection? lm_head; // null when tied to the embedding

    public LlamaConfig Config { get; }

    public LlamaForCausalLM(LlamaConfig config) : base("LlamaForCausalLM")
    {
        config.Validate();
        Config = config;
        model = new LlamaModel(config);
        lm_head = config.TieWordEmbeddings ? null : new Projection(config.HiddenSize, config.VocabSize);
        RegisterComponents();
    }

    /// <summary>Initialises weights as transformers does for Llama: normal(0, initializer_range), norms to one.
    /// Deterministic for a given <paramref name="seed"/>.</summary>
    public void InitializeWeights(long seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight")) p.fill_(1.0);
            else if (name.EndsWith(".bias")) p.zero_(); // as transformers initialises Linear biases
            else p.normal_(0.0, Config.InitializerRange, generator); // nn.init.normal_ ignores the generator in TorchSharp 0.107
        }
    }

    /// <summary>Logits [batch, seq, vocab] for causal next-token prediction over the whole input.</summary>
    public override Tensor forward(Tensor inputIds) => Forward(inputIds, null);

    public Tensor Forward(Tensor inputIds, ForwardOptions? options)
    {
        using var scope = NewDisposeScope();
        var hidden = Hidden(inputIds, options);
        return Head(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>Applies the LM head to final hidden states (the tied embedding when there is no separate head).</summary>
    public Tensor Head(Tensor hidden) =>
        lm_head is not null ? lm_head.forward(hidden) : nn.functional.linear(hidden, model.embed_tokens.weight!);

    /// <summary>Final hidden states [batch, seq, hidden] (after the last norm).</summary>
    public Tensor Hidden(Tensor inputIds, ForwardOptions? options = null)
    {
        using var scope = NewDisposeScope();
        if (inputIds.dim() != 2) throw new SharpLMException($"input ids must be [batch, seq], got shape [{string.Join(", ", inputIds.shape)}]");
        long b = inputIds.shape[0], t = inputIds.shape[1];
        var cache = options?.Cache;
        long past = cache?.Length ?? 0;
        CheckInputs(inputIds, past, options?.PositionIds);

        var (cos, sin) = options?.PositionIds is { } positions
            ? model.rotary_emb.ForPositions(positions)
            : model.rotary_emb.ForRange(past, t);

        Tensor? mask = null;
        if (options?.SegmentIds is { } segments)
        {
            if (past > 0) throw new SharpLMException("packed (segmented) inputs cannot be combined with a KV cache");
            mask = AttentionMasks.BlockCausal(segments);
        }
        else if (options?.AttentionMask is { } padding)
            mask = AttentionMasks.Causal(t, past, padding);
        else if (past > 0 && t > 1)
            mask = AttentionMasks.Causal(t, past, batch: b); // chunked prefill: SDPA's own causal flag is top-left aligned

        var x = model.embed_tokens.forward(inputIds);
        foreach (var layer in model.layers)
            x = layer.Forward(x, cos, sin, mask, cache);
        cache?.Advance(t);
        return model.norm.forward(x).MoveToOuterDisposeScope();
    }

    void CheckInputs(Tensor inputIds, long past, Tensor? positionIds)
    {
        long t = inputIds.shape[1];
        long maxPositions = Config.MaxPositionEmbeddings;
        if (positionIds is null && past + t > maxPositions)
            throw new SharpLMException($"sequence of {past + t} tokens is longer than the model's max_position_embeddings ({maxPositions})");
        if (positionIds is not null && positionIds.numel() > 0 && positionIds.max().item<long>() >= maxPositions)
            throw new SharpLMException($"position id {positionIds.max().item<long>()} is beyond the model's max_position_embeddings ({maxPositions})");
        if (inputIds.dtype != int64) throw new SharpLMException($"input ids must be int64, got {inputIds.dtype}");
        if (inputIds.numel() == 0) return;
        long maxId = inputIds.max().item<long>(), minId = inputIds.min().item<long>();
        if (maxId >= Config.VocabSize || minId < 0)
            throw new SharpLMException($"token id {(minId < 0 ? minId : maxId)} is outside the model's vocabulary (vocab_size {Config.VocabSize}); is the tokenizer the one this model was trained with?");
    }

    /// <summary>The matmul type set by <see cref="SetComputeType"/> (null: the weights' own type).</summary>
    public ScalarType? ComputeType => Projections().Select(p => p.Module.ComputeType).FirstOrDefault();

    /// <summary>Sets the matmul dtype of every projection (e.g. bf16 over fp32 weights); null = weight dtype.</summary>
    public void SetComputeType(ScalarType? type)
    {
        foreach (var p in Projections()) p.Module.ComputeType = type;
    }

    /// <summary>Every projection with its module path, e.g. ("model.layers.0.self_attn.q_proj", q_proj).</summary>
    public IEnumerable<(string Name, Projection Module)> Projections() =>
        named_modules().Where(m => m.module is Projection).Select(m => (m.name, (Projection)m.module));

    public long ParameterCount() => parameters().Sum(p => p.numel());
}
