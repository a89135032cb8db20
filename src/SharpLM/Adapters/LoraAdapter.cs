using SharpLM.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Adapters;

/// <summary>
/// A LoRA update on one projection: <c>Delta(x) = B(A(dropout(x))) * alpha / r</c>. A is initialised like PEFT
/// (Kaiming-uniform, bound 1/sqrt(in)), B to zero, so the adapted model starts exactly equal to the base.
/// Registered under the projection as <c>lora_A</c> / <c>lora_B</c>, i.e. PEFT's tensor names.
/// With <see cref="LoraOptions.UseDora"/> it is DoRA: the output rows of <c>W + scaling * B A</c> are rescaled to a
/// trained magnitude each (<c>lora_magnitude_vector</c>, starting at the row norms of W), as PEFT computes it.
/// </summary>
public sealed class LoraAdapter : IProjectionAdapter
{
    readonly Projection target;

    /// <param name="dtype">the adapter's type: the model's activations' (fp32 over a bf16 frozen base, bf16 in a bf16
    /// model)</param>
    public LoraAdapter(Projection target, LoraOptions options, Generator generator, ScalarType dtype)
    {
        this.target = target;
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
        // Drawn on the CPU (the same start on every device), then put beside the weight they adapt.
        A.to(target.weight.device);
        B.to(target.weight.device);
        A.ComputeType = B.ComputeType = target.ComputeType;
        A.Bf16OnKernels = B.Bf16OnKernels = target.Bf16OnKernels;
        if (options.UseDora) Magnitude = new DoraMagnitude(DirectionNorms(), dtype);
    }

    public Projection A { get; }
    public Projection B { get; }
    public double Scaling { get; }
    public double DropoutRate { get; }

    /// <summary>DoRA's magnitude per output row; null for plain LoRA.</summary>
    public DoraMagnitude? Magnitude { get; }

    public IEnumerable<(string Name, TorchSharp.torch.nn.Module Module)> Modules =>
        Magnitude is null ? [("lora_A", A), ("lora_B", B)] : [("lora_A", A), ("lora_B", B), (DoraMagnitude.Name, Magnitude)];

    public Tensor Adapt(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        var input = DropoutRate > 0 && A.training ? F.dropout(x, DropoutRate, training: true) : x;
        // Scaling the rank-r activations rather than B's output touches r instead of out_features values per token.
        var delta = B.forward(A.forward(input) * Scaling);
        if (Magnitude is null) return (y + delta).MoveToOuterDisposeScope();
        // DoRA: y' = b + m / |W + s B A| * (W x + s B A x). The norm is a constant to the gradient (the DoRA paper, 4.3).
        var baseOutput = ReferenceEquals(input, x) ? (target.bias is null ? y : y - target.bias) : target.BaseProduct(input);
        var factor = (Magnitude.weight / DirectionNorms()).to(y.dtype);
        var adapted = y + (factor - 1) * baseOutput + factor * delta.to(y.dtype);
        return adapted.MoveToOuterDisposeScope();
    }

    /// <summary>The dense update <c>scaling * B A</c>, shaped like the target's weight.</summary>
    public Tensor DenseUpdate() => B.weight.matmul(A.weight) * Scaling;

    /// <summary>The weight that computes what base + adapter compute: <c>W + scaling * B A</c>, for DoRA rescaled row by
    /// row to the magnitudes. In fp32.</summary>
    public Tensor MergedWeight()
    {
        using var scope = NewDisposeScope();
        var merged = target.weight.to(float32) + DenseUpdate().to(float32);
        if (Magnitude is not null) merged = merged * (Magnitude.weight.to(float32) / RowNorms(merged)).unsqueeze(1);
        return merged.MoveToOuterDisposeScope();
    }

    /// <summary>The L2 norm of each row (TorchSharp's <c>norm(1)</c> would be the L1 norm of everything).</summary>
    static Tensor RowNorms(Tensor w) => w.square().sum(1).sqrt();

    /// <summary>Row norms of <c>W + scaling * B A</c> in fp32, without gradient.</summary>
    Tensor DirectionNorms()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return RowNorms(target.weight.to(float32) + DenseUpdate().to(float32)).MoveToOuterDisposeScope();
    }
}
