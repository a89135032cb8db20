using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Model;

/// <summary>Grouped-query self-attention with rotary positions, through libtorch's scaled-dot-product attention.
/// Qwen3 adds an RMSNorm over each query and key head (<c>q_norm</c>, <c>k_norm</c>) before the rotation.</summary>
public sealed class Attention : nn.Module
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

    /// <param name="x">[batch, seq, hidden]</param>
    /// <param name="cos">rotary cos for x's positions, broadcastable to [batch, heads, seq, headDim]</param>
    /// <param name="sin">rotary sin, same shape</param>
    /// <param name="mask">boolean [batch, 1, seq, keys], true = may attend; null = plain causal over x alone
    /// (or every cached key when decoding one token)</param>
    /// <param name="cache">earlier keys/values; this call appends x's</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, heads, headDim);
        var k = k_proj.forward(x).view(b, t, kvHeads, headDim);
        if (q_norm is not null) (q, k) = (q_norm.forward(q), k_norm!.forward(k));
        q = q.transpose(1, 2);
        k = k.transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(layerIndex, k, v);
        if (t == 1 && mask is null && kvHeads != heads)
        {
            // Decoding one token sees every key, so no mask is needed and each key/value head's group of query
            // heads can be its "query positions": no copy of the whole cache per token for GQA.
            var grouped = F.scaled_dot_product_attention(q.reshape(b, kvHeads, heads / kvHeads, headDim), k, v, null, 0.0, false);
            return o_proj.forward(grouped.reshape(b, 1, heads * headDim)).MoveToOuterDisposeScope();
        }
        if (kvHeads != heads)
        {
            // TorchSharp's SDPA has no enable_gqa: share each key/value head across its group of query heads.
            k = k.repeat_interleave(heads / kvHeads, dim: 1);
            v = v.repeat_interleave(heads / kvHeads, dim: 1);
        }
        var causal = mask is null && t > 1;
        var y = F.scaled_dot_product_attention(q, k, v, mask, 0.0, causal);
        return o_proj.forward(y.transpose(1, 2).reshape(b, t, heads * headDim)).MoveToOuterDisposeScope();
    }
}
