using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Model;

/// <summary>
/// A linear layer (<c>y = x W^T</c>, plus <c>b</c> when it has a bias) with the tensor names Hugging Face uses (<c>weight</c>,
/// shape [out, in]; <c>bias</c>, shape [out]). Llama has no biases; Qwen2's q/k/v projections do.
/// It can compute in a lower precision than it stores (bf16 matmuls over fp32 master weights: TorchSharp has no
/// autocast) and can carry an adapter (LoRA) whose output is added to its own.
/// </summary>
public sealed class Projection : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;
    public long InFeatures => weight.shape[1];
    public long OutFeatures => weight.shape[0];

    /// <summary>dtype of the matmul; null means the weight's own dtype.</summary>
    public ScalarType? ComputeType { get; set; }

    /// <summary>What the name of every LoRA parameter holds, and no other's: PEFT registers a projection's adapter as
    /// <c>lora_A</c> / <c>lora_B</c> under it (<c>...q_proj.lora_A.weight</c>), and adapter files keep those names.</summary>
    public const string LoraInfix = ".lora_";

    /// <summary>An adapter whose output is added to this layer's (e.g. LoRA); null when none.</summary>
    public IProjectionAdapter? Adapter { get; private set; }

    /// <summary>False leaves the adapter out of the output (the base layer alone) without detaching it: preference
    /// training's reference model is the base under a LoRA being trained, with no second copy of the weights.</summary>
    public bool AdapterEnabled { get; set; } = true;

    public Projection(long inFeatures, long outFeatures, bool hasBias = false) : base("Projection")
    {
        weight = new Parameter(empty(outFeatures, inFeatures));
        if (hasBias) bias = new Parameter(zeros(outFeatures));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor y;
        // A weight stored in another type than the input (a bf16 frozen base under fp32 activations) computes in its own.
        var ct = ComputeType ?? weight.dtype;
        if (ct != weight.dtype || ct != x.dtype)
            y = F.linear(x.to(ct), weight.to(ct), bias?.to(ct)).to(x.dtype);
        else
            y = F.linear(x, weight, bias);
        if (Adapter is not null && AdapterEnabled) y = y + Adapter.Delta(x);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Attaches an adapter; its parameters are registered under the names it gives
    /// (e.g. <c>lora_A</c>, <c>lora_B</c>), so they appear as <c>...q_proj.lora_A.weight</c>.</summary>
    public void Attach(IProjectionAdapter adapter)
    {
        if (Adapter is not null) throw new InvalidOperationException("this projection already has an adapter");
        foreach (var (name, module) in adapter.Modules) register_module(name, module);
        Adapter = adapter;
    }

    /// <summary>Removes the adapter (after merging it, or to return to the base model).</summary>
    public void Detach()
    {
        if (Adapter is null) return;
        foreach (var (name, _) in Adapter.Modules) _internal_submodules.Remove(name);
        Adapter = null;
    }
}

/// <summary>Something added to a projection's output: <c>y = x W^T + Delta(x)</c>.</summary>
public interface IProjectionAdapter
{
    /// <summary>The adapter's modules with the names they are registered under.</summary>
    IEnumerable<(string Name, nn.Module Module)> Modules { get; }

    Tensor Delta(Tensor x);
}
