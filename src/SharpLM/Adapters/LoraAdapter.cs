using SharpLM.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Adapters;

/// <summary>
/// A LoRA update on one projection: <c>Delta(x) = B(A(dropout(x))) * alpha / r</c>. A is initialised like PEFT
/// (Kaiming-uniform, bound 1/sqrt(in)), B to zero, so the adapted model starts exactly equal to the base.
/// Registered under the projection as <c>lora_A</c> / <c>lora_B</c>, i.e. PEFT's tensor names.
/// </summary>
public sealed class LoraAdapter : IProjectionAdapter
{
    /// <param name="dtype">the adapter's type: the model's activations' (fp32 over a bf16 frozen base, bf16 in a bf16
    /// model)</param>
    public LoraAdapter(Projection target, LoraOptions options, Generator generator, ScalarType dtype)
    {
        A = new Projection(target.InFeatures, options.Rank);
        B = new Projection(options.Rank, target.OutFeatures);
        Scaling = options.Scaling;
        DropoutRate = options.Dropout;
        using var noGrad = no_grad();
        var bound = 1.0 / Math.Sqrt(target.InFeatures);
        A.weight.uniform_(-bound, bound, generator);
        B.weight.zero_();
        if (dtype != A.weight.dtype)
        {
            A.to(dtype);
            B.to(dtype);
        }
        A.ComputeType = B.ComputeType = target.ComputeType;
    }

    public Projection A { get; }
    public Projection B { get; }
    public double Scaling { get; }
    public double DropoutRate { get; }

    public IEnumerable<(string Name, TorchSharp.torch.nn.Module Module)> Modules => [("lora_A", A), ("lora_B", B)];

    public Tensor Delta(Tensor x)
    {
        using var scope = NewDisposeScope();
        var input = DropoutRate > 0 && A.training ? F.dropout(x, DropoutRate, training: true) : x;
        // Scaling the rank-r activations rather than B's output touches r instead of out_features values per token.
        return B.forward(A.forward(input) * Scaling).MoveToOuterDisposeScope();
    }

    /// <summary>The dense update <c>scaling * B A</c>, shaped like the target's weight.</summary>
    public Tensor DenseUpdate() => B.weight.matmul(A.weight) * Scaling;
}
