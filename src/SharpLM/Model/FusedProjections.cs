using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// A decoding step's products of projections that read the same input (q/k/v, gate/up) as one split of their combined
/// output rows across the cores (<see cref="OutputRowSplit"/>): one hand-over to the workers and one wait instead of one
/// per projection, one output tensor whose column blocks are the projections' outputs, a bf16 input widened once. Each
/// output is computed by the kernel code of the projection's own forward, so the results are bit-identical to it.
/// Fused at dispatch rather than by concatenating the weights: no second copy of them, and state dicts, adapters, saving
/// and export still see the projections as they are.
/// </summary>
static class FusedProjections
{
    /// <summary>False leaves every projection to its own forward: for benchmarks and tests that compare the two.</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>The projections' outputs for x [..., in], each a view [..., out_i] of one tensor [..., sum of out_i]; null
    /// when they cannot share a split, and the caller runs each projection's forward. They can when SharpLM's kernels are on
    /// (<see cref="Projection.Kernels"/>) and x is a contiguous fp32 or bf16 CPU tensor of 1 to
    /// <see cref="DenseProduct.MaxRows"/> rows that every projection would multiply with a decode kernel
    /// (<see cref="Projection.DecodeKernel"/>), none with an adapter switched on, and all or none with a bias.</summary>
    public static Tensor[]? Forward(Tensor x, params ReadOnlySpan<Projection> projections) =>
        Forward(x, OutputRowSplit.Threads, projections);

    /// <summary><see cref="Forward(Tensor, ReadOnlySpan{Projection})"/> on up to <paramref name="threads"/> threads.</summary>
    internal static Tensor[]? Forward(Tensor x, int threads, params ReadOnlySpan<Projection> projections)
    {
        if (!Enabled || !Projection.Kernels || projections.IsEmpty) return null;
        int columns = (int)projections[0].InFeatures;
        long rows = x.numel() / columns; // first: a prompt or a training batch goes back at once
        if (rows is < 1 or > DenseProduct.MaxRows || x.size(-1) != columns) return null;
        var dtype = x.dtype;
        if (dtype != ScalarType.Float32 && dtype != ScalarType.BFloat16 || x.device_type != DeviceType.CPU || !x.is_contiguous()) return null;
        bool biased = projections[0].bias is not null;
        var products = new ProductRows[projections.Length];
        var offsets = new int[projections.Length + 1]; // projection i's outputs are columns offsets[i] .. offsets[i + 1] - 1
        for (int i = 0; i < projections.Length; i++)
        {
            var p = projections[i];
            if (p.InFeatures != columns || p.Adapter is not null && p.AdapterEnabled || (p.bias is not null) != biased) return null;
            if (p.DecodeKernel(x, rows) is not { } product) return null;
            products[i] = product;
            offsets[i + 1] = offsets[i] + (int)p.OutFeatures;
        }
        using var scope = NewDisposeScope();
        var output = Multiply(x, (int)rows, products, offsets, threads, biased);
        if (biased)
        {
            // As a projection's forward adds its bias: to the fp32 product, then to the input's type.
            for (int i = 0; i < projections.Length; i++)
                output.narrow(-1, offsets[i], offsets[i + 1] - offsets[i]).add_(projections[i].bias!.to(ScalarType.Float32), HeldScalars.One);
            if (dtype != ScalarType.Float32) output = output.to(dtype);
        }
        var outputs = new Tensor[projections.Length];
        for (int i = 0; i < outputs.Length; i++)
            outputs[i] = output.narrow(-1, offsets[i], offsets[i + 1] - offsets[i]).MoveToOuterDisposeScope();
        return outputs;
    }

    /// <summary>The products into one tensor [..., offsets[^1]]: fp32 when <paramref name="fp32"/>, else x's type (a bf16 x is
    /// widened once for all the products: <see cref="Projection.ThroughFp32"/>).</summary>
    static Tensor Multiply(Tensor x, int rows, ProductRows[] products, int[] offsets, int threads, bool fp32) =>
        Projection.ThroughFp32(x, rows, offsets[^1], fp32 ? ScalarType.Float32 : x.dtype,
            (input, output) => Split(products, offsets, input, rows, output, threads));

    /// <summary>One split of all the products' output rows: a range that straddles two products computes its part of each,
    /// each product writing its column block of y [rows, total].</summary>
    static unsafe void Split(ProductRows[] products, int[] offsets, ReadOnlySpan<float> x, int rows, Span<float> y, int threads)
    {
        int total = offsets[^1];
        if (y.Length < rows * total) throw new ArgumentException("y is smaller than the shapes say");
        fixed (float* xp = x, yp = y)
        {
            var (input, output) = ((nint)xp, (nint)yp);
            OutputRowSplit.Run(total, threads, (first, end) =>
            {
                for (int i = 0; i < products.Length; i++)
                {
                    int from = Math.Max(first, offsets[i]), to = Math.Min(end, offsets[i + 1]);
                    if (from < to) products[i](from - offsets[i], to - offsets[i], input, rows, (nint)((float*)output + offsets[i]), total);
                }
            });
        }
    }
}
