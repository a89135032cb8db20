using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Model;

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
        return down_proj.forward(F.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }
}
