using System.Buffers;
using System.Runtime.InteropServices;
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
    public long InFeatures => Q8?.Columns ?? weight.size(1);
    public long OutFeatures => Q8?.Rows ?? weight.size(0);

    /// <summary>The weight in 8 bits, for inference (<see cref="QuantizeForInference"/>); null = the weight as stored.</summary>
    public Q8Matrix? Q8 { get; private set; }

    /// <summary>False sends rows over fp32 and bf16 weights to libtorch instead of SharpLM's kernels: for benchmarks that
    /// compare the two (q8 weights have no libtorch path).</summary>
    internal static bool Kernels { get; set; } = true;

    /// <summary>dtype of the matmul; null means the weight's own dtype.</summary>
    public ScalarType? ComputeType { get; set; }

    /// <summary>With a bf16 <see cref="ComputeType"/> over fp32 weights on the CPU: run the products on SharpLM's fp32 kernels
    /// over operands rounded to bf16 (<see cref="KernelLinear.Apply"/>) instead of libtorch's bf16 matmul: the same arithmetic
    /// (bf16 operands, fp32 sums; the outputs are not rounded), for CPUs whose bf16 matmul is slower than their fp32 one (no
    /// bf16 dot products at twice the fp32 rate: measured 157 against 264 GFLOP/s on two Emerald Rapids cores without AMX).</summary>
    public bool Bf16OnKernels { get; set; }

    /// <summary>Whether every path of <see cref="forward"/> multiplies x rounded to bf16 and x is read by nothing else here
    /// (bf16 products over fp32 weights on SharpLM's kernels, no active adapter, no 8-bit form): then an x whose values are bf16
    /// values already gives the same result, and the operation that makes x may round it as it writes it, once for every
    /// projection that reads it (<see cref="Bf16Operands.MarkRounded"/>).</summary>
    internal bool RoundsInputToBf16 =>
        Bf16OnKernels && ComputeType == ScalarType.BFloat16 && weight.dtype == ScalarType.Float32 && Q8 is null
        && (Adapter is null || !AdapterEnabled) && Bf16Operands.ProducersRound;

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
        var y = Q8 is null ? Linear(x, bias) : Q8Linear(x);
        if (Adapter is not null && AdapterEnabled) y = Adapter.Adapt(x, y);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Replaces the weight by its 8-bit form (<see cref="Q8Matrix"/>) and releases the stored one: for
    /// inference only (the weight can no longer be trained, saved or merged into).</summary>
    public void QuantizeForInference()
    {
        if (Adapter is not null) throw new SharpLMException("a projection with an adapter cannot be quantised: merge the adapter first");
        if (Q8 is not null) return;
        Q8 = Q8Matrix.Quantize(weight);
        using var noGrad = no_grad();
        weight.set_(empty(0, dtype: weight.dtype, device: weight.device));
    }

    /// <summary>Rows go through SharpLM's 8-bit kernels (<see cref="Q8Matrix.Multiply"/>); through libtorch's matmul over
    /// the dequantised weight where they do not apply (a prompt's many rows without AVX-512, a gradient).</summary>
    Tensor Q8Linear(Tensor x)
    {
        long rows = x.numel() / InFeatures;
        if (!Q8!.TakesRows(rows) || x.requires_grad) return F.linear(x, Q8.Dequantize(x.dtype), bias?.to(x.dtype));
        return RowsLinear(x, bias, Q8.Multiply);
    }

    /// <summary>A decoding step's few rows over bf16 weights (<see cref="Bf16Product"/>).</summary>
    Tensor Bf16Linear(Tensor x, Tensor? b) =>
        RowsLinear(x, b, (input, rows, output, threads) => Bf16Product.Multiply(weight, input, rows, output, threads));

    /// <summary>A decoding step's few rows over fp32 weights (<see cref="Fp32Product"/>).</summary>
    Tensor Fp32Linear(Tensor x, Tensor? b) =>
        RowsLinear(x, b, (input, rows, output, threads) => Fp32Product.Multiply(weight, input, rows, output, threads));

    /// <summary>A prompt's many rows over fp32 weights (<see cref="PromptProduct"/>).</summary>
    Tensor PromptLinear(Tensor x, Tensor? b) =>
        RowsLinear(x, b, (input, rows, output, threads) => PromptProduct.Multiply(weight, input, rows, output, threads));

    delegate void RowsProduct(ReadOnlySpan<float> x, int rows, Span<float> y, int threads);

    /// <summary>x W^T + b through a hand-written kernel, which reads and writes fp32 in CPU memory (only CPU models come
    /// here: QuantizeForInference and the kernels' Applies see to it). A contiguous fp32 or bf16 input without a bias
    /// skips libtorch's conversions (<see cref="ThroughFp32"/>), each an allocation and a native call, twice per projection
    /// in a decoding step.</summary>
    Tensor RowsLinear(Tensor x, Tensor? b, RowsProduct product)
    {
        var dtype = x.dtype;
        int rows = (int)(x.numel() / InFeatures), threads = OutputRowSplit.Threads;
        if (b is null && (dtype == ScalarType.Float32 || dtype == ScalarType.BFloat16) && x.is_contiguous())
            return ThroughFp32(x, rows, (int)OutFeatures, dtype, (input, output) => product(input, rows, output, threads));
        using var scope = NewDisposeScope();
        var fp32 = x.to(ScalarType.Float32).contiguous();
        var y = empty([rows, OutFeatures], ScalarType.Float32, device: CPU);
        product(MemoryMarshal.Cast<byte, float>(fp32.bytes), rows, MemoryMarshal.Cast<byte, float>(y.bytes), threads);
        y = y.view(ShapeWithLast(x, OutFeatures));
        if (b is not null) y = y + b.to(ScalarType.Float32);
        return y.to(dtype).MoveToOuterDisposeScope();
    }

    internal delegate void ProductOfFp32(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>A product of x's <paramref name="rows"/> rows as fp32 (x a contiguous fp32 or bf16 tensor in CPU memory) into a
    /// new tensor [..., <paramref name="outputs"/>] of <paramref name="outputType"/>, x's type or fp32, without libtorch's
    /// conversions: fp32 is read and written in place, bf16 widened into a buffer once and, for a bf16 output, the
    /// product's fp32 rounded back as libtorch would.</summary>
    internal static Tensor ThroughFp32(Tensor x, int rows, int outputs, ScalarType outputType, ProductOfFp32 product)
    {
        var output = empty(ShapeWithLast(x, outputs), outputType, device: CPU);
        if (x.dtype == ScalarType.Float32)
        {
            product(MemoryMarshal.Cast<byte, float>(x.bytes), MemoryMarshal.Cast<byte, float>(output.bytes));
            return output;
        }
        var input = ArrayPool<float>.Shared.Rent((int)x.numel());
        var result = outputType == ScalarType.Float32 ? null : ArrayPool<float>.Shared.Rent(rows * outputs);
        try
        {
            Bf16Values.Widen(MemoryMarshal.Cast<byte, ushort>(x.bytes), input);
            product(input, result ?? MemoryMarshal.Cast<byte, float>(output.bytes));
            if (result is not null) Bf16Values.Round(result.AsSpan(0, rows * outputs), MemoryMarshal.Cast<byte, ushort>(output.bytes));
            return output;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
            if (result is not null) ArrayPool<float>.Shared.Return(result);
        }
    }

    /// <summary>x's shape with its last size replaced, read through <c>size(d)</c>: TorchSharp's <c>shape</c> costs about
    /// 1.5 µs a call (it allocates), a dimension's size a hundredth of that, and a decoding step asks for shapes hundreds of
    /// times.</summary>
    internal static long[] ShapeWithLast(Tensor x, long last)
    {
        var shape = new long[x.dim()];
        for (int d = 0; d < shape.Length - 1; d++) shape[d] = x.size(d);
        shape[^1] = last;
        return shape;
    }

    /// <summary>The weight and the type it is multiplied in when this layer computes a plain <c>x W^T</c> (no active adapter,
    /// bias or 8-bit form): what <see cref="HeadCrossEntropy"/> can fuse with a loss; null otherwise.</summary>
    internal (Tensor Weight, ScalarType Compute, bool Bf16OnKernels)? PlainProduct =>
        (Adapter is null || !AdapterEnabled) && Q8 is null && bias is null ? (weight, ComputeType ?? weight.dtype, Bf16OnKernels) : null;

    /// <summary><c>x W^T</c> without bias or adapter (what DoRA rescales).</summary>
    public Tensor BaseProduct(Tensor x) => Linear(x, null);

    Tensor Linear(Tensor x, Tensor? b)
    {
        // A weight stored in another type than the input (a bf16 frozen base under fp32 activations) computes in its own.
        var ct = ComputeType ?? weight.dtype;
        if (Kernels && Bf16OnKernels && ct == ScalarType.BFloat16 && x.dtype == ScalarType.Float32
            && KernelLinear.Applies(x, weight, x.numel() / InFeatures))
        {
            var y = KernelLinear.Apply(x, weight, bf16: true);
            return b is null ? y : y.add(b, HeldScalars.One);
        }
        if (Kernels && ct == weight.dtype)
        {
            long rows = x.numel() / InFeatures;
            if (is_grad_enabled() && (x.requires_grad || weight.requires_grad))
            {
                // Training: many fp32 rows through an autograd operation on SharpLM's kernels; the rest through libtorch.
                if (KernelLinear.Applies(x, weight, rows))
                {
                    var y = KernelLinear.Apply(x, weight);
                    return b is null ? y : y.add(b, HeldScalars.One);
                }
            }
            else
            {
                if (Bf16Product.Applies(weight, rows)) return Bf16Linear(x, b);
                if (x.dtype == ScalarType.Float32 && Fp32Product.Applies(weight, rows)) return Fp32Linear(x, b);
                if (KernelLinear.Applies(x, weight, rows)) return PromptLinear(x, b);
            }
        }
        if (ct != weight.dtype || ct != x.dtype)
        {
            using var scope = NewDisposeScope();
            return F.linear(x.to(ct), weight.to(ct), b?.to(ct)).to(x.dtype).MoveToOuterDisposeScope();
        }
        return F.linear(x, weight, b);
    }

    /// <summary>The kernel that <see cref="forward"/> runs x's <paramref name="rows"/> rows on, by output-row range, when
    /// that is one of the decode kernels (1 to <see cref="DenseProduct.MaxRows"/> rows, no gradient needed); null when it
    /// takes another path. It chooses as <see cref="Q8Linear"/> and <see cref="Linear"/> do; bias and adapter aside.</summary>
    internal ProductRows? DecodeKernel(Tensor x, long rows)
    {
        if (rows is < 1 or > DenseProduct.MaxRows) return null;
        if (Q8 is not null) return x.requires_grad ? null : Q8.MultiplyOutputRows;
        if (!Kernels || (ComputeType ?? weight.dtype) != weight.dtype) return null;
        if (is_grad_enabled() && (x.requires_grad || weight.requires_grad)) return null;
        if (Bf16Product.Applies(weight, rows)) return Bf16Product.OutputRows(weight);
        if (x.dtype == ScalarType.Float32 && Fp32Product.Applies(weight, rows)) return Fp32Product.OutputRows(weight);
        return null;
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

/// <summary>Something that changes a projection's output, e.g. adds <c>Delta(x)</c> to <c>y = x W^T + b</c> (LoRA).</summary>
public interface IProjectionAdapter
{
    /// <summary>The adapter's modules with the names they are registered under.</summary>
    IEnumerable<(string Name, nn.Module Module)> Modules { get; }

    /// <summary>The adapted output, given the input <paramref name="x"/> and the base output <paramref name="y"/>.</summary>
    Tensor Adapt(Tensor x, Tensor y);
}
