using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>Root-mean-square layer norm (TorchSharp has none). Computed in fp32 whatever the input dtype,
/// as Hugging Face's LlamaRMSNorm does, then cast back and scaled.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    readonly double eps;

    public RmsNorm(long size, double eps) : base("RmsNorm")
    {
        weight = new Parameter(ones(size));
        this.eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xf = x.to(float32);
        var normed = xf * (xf.square().mean([-1L], keepdim: true) + eps).rsqrt();
        return (weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
