using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>Pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(x)).</summary>
public sealed class DecoderLayer : nn.Module
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

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache);
        return (h + mlp.forward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
    }
}
