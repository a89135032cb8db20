using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Model;

// The Llama architecture in one file, as MLX-LM's mlx_lm/models/llama.py lays it out: attention, MLP, decoder block,
// the decoder stack whose forward runs the layer loop (LlamaModel) and the language-modelling head on top of it
// (LlamaForCausalLM). Module field names are Hugging Face's tensor names (model.layers.0.self_attn.q_proj.weight,
// lm_head.weight, ...), so the state dict is a Hugging Face checkpoint as is: safetensors, GGUF export, LoRA targets
// and freezing all go by them. Companions: LlamaConfig (the config.json), RopeFrequencies and RotaryEmbedding (the
// rotary tables), AttentionMasks (which mask a forward pass uses), KvCache, Projection (the Linear LoRA wraps),
// FusedProjections (a decoding step's q/k/v and gate/up products in one split each), and FusedRmsNorm, FusedSwiGlu,
// FusedRope and CausalAttention (fp32 training's norms, MLP gating, rotary embedding and attention as single autograd
// operations).

/// <summary>Root-mean-square layer norm (TorchSharp has none). Computed in fp32 whatever the input dtype,
/// as Hugging Face's LlamaRMSNorm does, then cast back and scaled. fp32 training runs it as one autograd operation
/// (<see cref="FusedRmsNorm"/>).</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    readonly Scalar eps; // held for the module's life (see HeldScalars)
    readonly float fusedEps; // FusedRmsNorm's, in fp32 as libtorch adds eps to the fp32 mean

    public RmsNorm(long size, double eps) : base("RmsNorm")
    {
        weight = new Parameter(ones(size));
        this.eps = eps;
        fusedEps = (float)eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x, roundToBf16: false);

    /// <summary><see cref="forward"/>; with <paramref name="roundToBf16"/>, in training, the output is rounded to bf16 as it is
    /// written and marked so (<see cref="Bf16Operands.MarkRounded"/>), for projections that round it anyway
    /// (<see cref="Projection.RoundsInputToBf16"/>).</summary>
    internal Tensor Forward(Tensor x, bool roundToBf16)
    {
        using var scope = NewDisposeScope();
        if (FusedRmsNorm.Applies(x, weight)) return FusedRmsNorm.Apply(x, weight, fusedEps, roundToBf16: roundToBf16).MoveToOuterDisposeScope();
        // Fewest native calls for the fp32 case (a decoding step runs 13 of these per token): no casts, in-place steps.
        var xf = x.dtype == float32 ? x : x.to(float32);
        var normed = xf * xf.square().mean([-1L], keepdim: true).add_(eps).rsqrt_();
        return (weight * (x.dtype == float32 ? normed : normed.to(x.dtype))).MoveToOuterDisposeScope();
    }
}

/// <summary>Grouped-query self-attention with rotary positions, through libtorch's scaled-dot-product attention.
/// Qwen3 adds an RMSNorm over each query and key head (<c>q_norm</c>, <c>k_norm</c>) before the rotation.</summary>
public sealed class Attention : nn.Module<Tensor, Tensor, Tensor, Tensor?, IKvCache?, Tensor>
{
    public readonly Projection q_proj, k_proj, v_proj, o_proj;
    public readonly RmsNorm? q_norm, k_norm;
    readonly int heads, kvHeads, headDim, layerIndex;

    public Attention(LlamaConfig config, int layerIndex) : base("Attention")
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        this.layerIndex = layerIndex;
        q_proj = new Projection(config.HiddenSize, heads * headDim, config.QkvBias);
        k_proj = new Projection(config.HiddenSize, kvHeads * headDim, config.QkvBias);
        v_proj = new Projection(config.HiddenSize, kvHeads * headDim, config.QkvBias);
        o_proj = new Projection(heads * headDim, config.HiddenSize, config.AttentionBias);
        if (config.QkNorm)
        {
            q_norm = new RmsNorm(headDim, config.RmsNormEps);
            k_norm = new RmsNorm(headDim, config.RmsNormEps);
        }
        RegisterComponents();
    }

    /// <summary>Whether q, k and v all round their input to bf16 (<see cref="Projection.RoundsInputToBf16"/>).</summary>
    internal bool RoundsInputToBf16 => q_proj.RoundsInputToBf16 && k_proj.RoundsInputToBf16 && v_proj.RoundsInputToBf16;

    /// <param name="x">[batch, seq, hidden]</param>
    /// <param name="cos">rotary cos for x's positions, broadcastable to [batch, heads, seq, headDim]</param>
    /// <param name="sin">rotary sin, same shape</param>
    /// <param name="mask">from <see cref="AttentionMasks.For"/>: boolean [batch, 1, seq, keys], true = may attend;
    /// null = plain causal over x alone (or every cached key when decoding one token)</param>
    /// <param name="cache">earlier keys/values; this call appends x's</param>
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, IKvCache? cache)
    {
        using var scope = NewDisposeScope();
        long b = x.size(0), t = x.size(1);
        // A decoding step's few rows: the three products in one split, their outputs column blocks of one tensor.
        var (q, k, v) = FusedProjections.Forward(x, q_proj, k_proj, v_proj) is [var fq, var fk, var fv]
            ? (fq, fk, fv) : (q_proj.forward(x), k_proj.forward(x), v_proj.forward(x));
        q = q.view(b, t, heads, headDim);
        k = k.view(b, t, kvHeads, headDim);
        if (q_norm is not null) (q, k) = (q_norm.forward(q), k_norm!.forward(k));
        q = q.transpose(1, 2);
        k = k.transpose(1, 2);
        v = v.view(b, t, kvHeads, headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(layerIndex, k, v);
        if (t == 1 && kvHeads != heads)
        {
            // Decoding one token: each key/value head's group of query heads can be its "query positions" (a mask,
            // [batch, 1, 1, keys], broadcasts over them): no copy of the whole cache per token for GQA.
            var grouped = F.scaled_dot_product_attention(q.reshape(b, kvHeads, heads / kvHeads, headDim), k, v, mask, 0.0, false);
            return o_proj.forward(grouped.reshape(b, 1, heads * headDim)).MoveToOuterDisposeScope();
        }
        if (mask is null && cache is null && t > 1) return o_proj.forward(Causal(q, k, v)).MoveToOuterDisposeScope();
        var causal = mask is null && t > 1;
        var y = F.scaled_dot_product_attention(q, PerQueryHead(k, heads), PerQueryHead(v, heads), mask, 0.0, causal);
        return o_proj.forward(y.transpose(1, 2).reshape(b, t, heads * headDim)).MoveToOuterDisposeScope();
    }

    /// <summary>Plain causal attention of a forward pass without cache or mask, q [batch, heads, t, d] over k, v
    /// [batch, kvHeads, t, d], as [batch, t, heads * d]: in training on <see cref="CausalAttention"/> where it applies,
    /// else in libtorch's scaled-dot-product attention.</summary>
    internal static Tensor Causal(Tensor q, Tensor k, Tensor v)
    {
        if (CausalAttention.Applies(q, k, v)) return CausalAttention.Apply(q, k, v);
        long b = q.size(0), heads = q.size(1), t = q.size(2);
        var y = F.scaled_dot_product_attention(q, PerQueryHead(k, heads), PerQueryHead(v, heads), null, 0.0, true);
        return y.transpose(1, 2).reshape(b, t, heads * q.size(3));
    }

    /// <summary>TorchSharp's SDPA has no enable_gqa: shares each key/value head across its group of query heads.</summary>
    static Tensor PerQueryHead(Tensor kv, long heads) => kv.size(1) == heads ? kv : kv.repeat_interleave(heads / kv.size(1), dim: 1);
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    public readonly Projection gate_proj, up_proj, down_proj;

    public Mlp(LlamaConfig config) : base("Mlp")
    {
        gate_proj = new Projection(config.HiddenSize, config.IntermediateSize, config.MlpBias);
        up_proj = new Projection(config.HiddenSize, config.IntermediateSize, config.MlpBias);
        down_proj = new Projection(config.IntermediateSize, config.HiddenSize, config.MlpBias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // A decoding step's few rows: both products in one split (FusedProjections); silu and the product stay in libtorch.
        // Its gate is made contiguous, as gate_proj's own output is: over a strided view libtorch's silu runs each row's
        // tail (beyond a multiple of its vector loop) in its scalar loop, which rounds differently.
        var (gate, up) = FusedProjections.Forward(x, gate_proj, up_proj) is [var fusedGate, var fusedUp]
            ? (fusedGate.contiguous(), fusedUp) : (gate_proj.forward(x), up_proj.forward(x));
        return down_proj.forward(Gating(gate, up, down_proj.RoundsInputToBf16)).MoveToOuterDisposeScope();
    }

    /// <summary>Whether gate and up both round their input to bf16 (<see cref="Projection.RoundsInputToBf16"/>).</summary>
    internal bool RoundsInputToBf16 => gate_proj.RoundsInputToBf16 && up_proj.RoundsInputToBf16;

    /// <summary>silu(gate) * up: one autograd operation in fp32 training (<see cref="FusedSwiGlu"/>), libtorch's steps
    /// otherwise. With <paramref name="roundToBf16"/> the fused operation rounds its output to bf16 and marks it so
    /// (<see cref="Bf16Operands.MarkRounded"/>), for a down projection that rounds it anyway.</summary>
    internal static Tensor Gating(Tensor gate, Tensor up, bool roundToBf16 = false) =>
        FusedSwiGlu.Applies(gate, up) ? FusedSwiGlu.Apply(gate, up, roundToBf16: roundToBf16) : F.silu(gate) * up;
}

/// <summary>Pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(x)).</summary>
public sealed class DecoderLayer : nn.Module<Tensor, Tensor, Tensor, Tensor?, IKvCache?, Tensor>
{
    public readonly RmsNorm input_layernorm, post_attention_layernorm;
    public readonly Attention self_attn;
    public readonly Mlp mlp;

    public DecoderLayer(LlamaConfig config, int layerIndex) : base("DecoderLayer")
    {
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        self_attn = new Attention(config, layerIndex);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        mlp = new Mlp(config);
        RegisterComponents();
    }

    /// <summary>Arguments as <see cref="Attention.forward"/>'s.</summary>
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, IKvCache? cache)
    {
        using var scope = NewDisposeScope();
        var normed = input_layernorm.Forward(x, self_attn.RoundsInputToBf16);
        var h = x.add(self_attn.forward(normed, cos, sin, mask, cache), HeldScalars.One);
        return h.add(mlp.forward(post_attention_layernorm.Forward(h, mlp.RoundsInputToBf16)), HeldScalars.One).MoveToOuterDisposeScope();
    }
}

/// <summary>Optional inputs of a forward pass beyond the token ids.</summary>
public sealed class ForwardOptions
{
    /// <summary>[batch, seq] position of each token; default: cache length + 0..seq-1.</summary>
    public Tensor? PositionIds { get; init; }

    /// <summary>[batch, cached + seq], 1 = real token, 0 = padding (keys that nobody may attend to).</summary>
    public Tensor? AttentionMask { get; init; }

    /// <summary>[batch, seq] example id of each position in a packed row: attention stays inside an example.</summary>
    public Tensor? SegmentIds { get; init; }

    /// <summary>Boolean [batch, 1, seq, keys], true = may attend: used as is instead of the mask the options above
    /// imply, e.g. for rows of a <see cref="SlotKvCache"/> whose cached lengths differ.</summary>
    public Tensor? Mask { get; init; }

    /// <summary>Keys/values of earlier positions; the forward appends the new ones.</summary>
    public IKvCache? Cache { get; init; }
}

/// <summary>The decoder stack: token embedding, layers, final norm (Hugging Face's <c>model.*</c> tensors).</summary>
public sealed class LlamaModel : nn.Module<Tensor, ForwardOptions?, Tensor>
{
    public readonly Embedding embed_tokens;
    public readonly ModuleList<DecoderLayer> layers;
    public readonly RmsNorm norm;
    public readonly RotaryEmbedding rotary_emb;
    readonly int maxPositions;

    /// <summary>NEFTune's alpha: noise on the input embeddings in training mode (<see cref="EmbeddingNoise"/>); 0 = none.</summary>
    public double NeftuneAlpha { get; set; }

    public LlamaModel(LlamaConfig config) : base("LlamaModel")
    {
        maxPositions = config.MaxPositionEmbeddings;
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<DecoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new DecoderLayer(config, i)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        rotary_emb = new RotaryEmbedding(config.HeadDim, config.MaxPositionEmbeddings, config.Rope());
        RegisterComponents();
    }

    /// <summary>Final hidden states [batch, seq, hidden] (after the last norm) of the token ids [batch, seq];
    /// appends their keys/values to <see cref="ForwardOptions.Cache"/> when there is one.</summary>
    public override Tensor forward(Tensor inputIds, ForwardOptions? options = null)
    {
        using var scope = NewDisposeScope();
        var (x, cos, sin, mask) = LayerInputs(inputIds, options);
        foreach (var layer in layers)
            x = layer.forward(x, cos, sin, mask, options?.Cache);
        options?.Cache?.Advance(inputIds.size(1));
        return norm.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>What the layer loop starts from: the input embeddings (with NEFTune's noise in training mode), the RoPE
    /// cos/sin of the positions and the attention mask (null where the attention is plainly causal).</summary>
    public (Tensor Embeddings, Tensor Cos, Tensor Sin, Tensor? Mask) LayerInputs(Tensor inputIds, ForwardOptions? options)
    {
        if (inputIds.dim() != 2) throw new SharpLMException($"input ids must be [batch, seq], got shape [{string.Join(", ", inputIds.shape)}]");
        long b = inputIds.size(0), t = inputIds.size(1);
        long past = options?.Cache?.Length ?? 0;
        CheckInputs(inputIds, past, options?.PositionIds);
        var (cos, sin) = options?.PositionIds is { } positions
            ? rotary_emb.ForPositions(positions)
            : rotary_emb.ForRange(past, t);
        var mask = options?.Mask ?? AttentionMasks.For(b, t, past, options?.AttentionMask, options?.SegmentIds, inputIds.device);
        var x = embed_tokens.forward(inputIds);
        if (training && NeftuneAlpha > 0) x = EmbeddingNoise.Add(x, NeftuneAlpha);
        return (x, cos, sin, mask);
    }

    void CheckInputs(Tensor inputIds, long past, Tensor? positionIds)
    {
        long t = inputIds.size(1);
        if (positionIds is null && past + t > maxPositions)
            throw new SharpLMException($"sequence of {past + t} tokens is longer than the model's max_position_embeddings ({maxPositions})");
        if (positionIds is not null && positionIds.numel() > 0 && positionIds.max().item<long>() >= maxPositions)
            throw new SharpLMException($"position id {positionIds.max().item<long>()} is beyond the model's max_position_embeddings " +
                                       $"({maxPositions})");
        if (inputIds.dtype != int64) throw new SharpLMException($"input ids must be int64, got {inputIds.dtype}");
        if (inputIds.numel() == 0) return;
        long maxId = inputIds.max().item<long>(), minId = inputIds.min().item<long>(), vocabSize = embed_tokens.weight!.size(0);
        if (maxId >= vocabSize || minId < 0)
            throw new SharpLMException($"token id {(minId < 0 ? minId : maxId)} is outside the model's vocabulary (vocab_size {vocabSize}); " +
                                       "is the tokenizer the one this model was trained with?");
    }
}

/// <summary>
/// A Llama-style decoder-only language model: <see cref="LlamaModel"/> with a language-modelling head on top.
/// Module field names follow Hugging Face's tensor names (<c>model.layers.0.self_attn.q_proj.weight</c>,
/// <c>lm_head.weight</c>), so the state dict is a Hugging Face checkpoint as is.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module<Tensor, ForwardOptions?, Tensor>
{
    public readonly LlamaModel model;
    public readonly Projection? lm_head; // null when tied to the embedding

    public LlamaConfig Config { get; }

    /// <summary>Where the weights are (moved there with <c>model.to(device)</c>): every tensor made for a forward pass
    /// is made there.</summary>
    public Device Device => model.embed_tokens.weight!.device;

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

    /// <summary>Logits [batch, seq, vocab] for next-token prediction: <see cref="Head"/> over
    /// <see cref="LlamaModel.forward"/>'s hidden states (causal over the whole input unless options say otherwise).</summary>
    public override Tensor forward(Tensor inputIds, ForwardOptions? options = null)
    {
        using var scope = NewDisposeScope();
        return Head(model.forward(inputIds, options)).MoveToOuterDisposeScope();
    }

    /// <summary>Applies the LM head to final hidden states (the tied embedding when there is no separate head), e.g. to
    /// the last position only of <see cref="LlamaModel.forward"/>'s output when generating.</summary>
    public Tensor Head(Tensor hidden) =>
        lm_head is not null ? lm_head.forward(hidden) : F.linear(hidden, model.embed_tokens.weight!);

    /// <summary>The head's weight and compute type when the head is a plain product (<see cref="Projection.PlainProduct"/>; the
    /// embedding when tied), which a loss can fuse with it (<see cref="HeadCrossEntropy"/>); null otherwise.</summary>
    internal (Tensor Weight, ScalarType Compute, bool Bf16OnKernels)? PlainHead =>
        lm_head is null ? (model.embed_tokens.weight!, model.embed_tokens.weight!.dtype, false) : lm_head.PlainProduct;

    /// <summary>The matmul type set by <see cref="SetComputeType"/> (null: the weights' own type).</summary>
    public ScalarType? ComputeType => Projections().Select(p => p.Module.ComputeType).FirstOrDefault();

    /// <summary>Whether bf16 products run on SharpLM's fp32 kernels (<see cref="Projection.Bf16OnKernels"/>).</summary>
    public bool Bf16OnKernels => Projections().Select(p => p.Module.Bf16OnKernels).FirstOrDefault();

    /// <summary>Sets the matmul dtype of every projection (e.g. bf16 over fp32 weights); null = weight dtype. With
    /// <paramref name="bf16OnKernels"/>, bf16 products run on SharpLM's fp32 kernels (<see cref="Projection.Bf16OnKernels"/>).</summary>
    public void SetComputeType(ScalarType? type, bool bf16OnKernels = false)
    {
        foreach (var p in Projections())
        {
            p.Module.ComputeType = type;
            p.Module.Bf16OnKernels = bf16OnKernels;
        }
    }

    /// <summary>Every projection with its module path, e.g. ("model.layers.0.self_attn.q_proj", q_proj).</summary>
    public IEnumerable<(string Name, Projection Module)> Projections() =>
        named_modules().Where(m => m.module is Projection).Select(m => (m.name, (Projection)m.module));

    public long ParameterCount() => parameters().Sum(p => p.numel()) + Projections().Sum(p => p.Module.Q8 is { } q ? (long)q.Rows * q.Columns : 0);

    /// <summary>Keeps every projection whose rows split into 32-value blocks in 8 bits (<see cref="Q8Matrix"/>) for
    /// faster decoding with a quarter of the weight memory; the embedding and norms stay as they are. Inference only, on the CPU.
    /// Returns how many projections were quantised.</summary>
    public int QuantizeForInference()
    {
        int count = 0;
        foreach (var (_, projection) in Projections().Where(p => Q8Matrix.Fits(p.Module.weight)).ToList())
        {
            projection.QuantizeForInference();
            count++;
        }
        return count;
    }

    /// <summary>Switches every projection's adapter off until the result is disposed: the model then computes what its
    /// base computes (the reference model of preference training under LoRA).</summary>
    public IDisposable AdaptersOff()
    {
        var switched = Projections().Where(p => p.Module.Adapter is not null && p.Module.AdapterEnabled).Select(p => p.Module).ToList();
        foreach (var p in switched) p.AdapterEnabled = false;
        return new AdaptersBackOn(switched);
    }

    sealed class AdaptersBackOn(List<Projection> projections) : IDisposable
    {
        public void Dispose()
        {
            foreach (var p in projections) p.AdapterEnabled = true;
            projections.Clear();
        }
    }
}
