using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// A weight matrix in 8-bit integers for inference, laid out as GGUF's Q8_0 (blocks of 32 values along a row, each
/// with its own scale max|w| / 127), with a hand-vectorised product for a few input rows: decoding is a chain of
/// matrix-vector products whose speed is the memory read per weight, and libtorch has no int8-weight kernel on CPU.
/// A quarter of fp32's bytes per weight is a quarter of the memory traffic. A prompt's many rows go to
/// <see cref="Q8PromptProduct"/>, which multiplies them in 16-bit integers.
/// </summary>
public sealed class Q8Matrix : IDisposable
{
    public const int BlockSize = 32;

    /// <summary>Most input rows the decoding kernel takes at once (one decoding step of a full batch); more are a prompt's.</summary>
    public const int MaxRows = 8;

    readonly Tensor values; // int8 [Rows, Columns]
    readonly Tensor scales; // fp32 [Rows, Columns / BlockSize]

    Q8Matrix(Tensor values, Tensor scales)
    {
        (this.values, this.scales) = (values.DetachFromDisposeScope(), scales.DetachFromDisposeScope());
        (Rows, Columns) = ((int)values.shape[0], (int)values.shape[1]);
    }

    /// <summary>Output features (rows of the weight).</summary>
    public int Rows { get; }

    /// <summary>Input features; a multiple of <see cref="BlockSize"/>.</summary>
    public int Columns { get; }

    /// <summary>Whether a weight of this shape can be stored (its rows split into whole blocks).</summary>
    public static bool Fits(Tensor weight) => weight.dim() == 2 && weight.shape[1] % BlockSize == 0;

    /// <summary>Quantises a weight [out, in] (any float type): scale = max|w| / 127 per block, values rounded. CPU only:
    /// the kernel reads the values from CPU memory.</summary>
    public static Q8Matrix Quantize(Tensor weight)
    {
        if (weight.device_type != DeviceType.CPU)
            throw new SharpLMException($"8-bit weights (QuantizeForInference) run on the CPU only, and this model is on " +
                                       $"{Runtime.ComputeDevice.Name(weight.device)}: keep it in fp32 or bf16 there");
        if (!Fits(weight))
            throw new SharpLMException($"an 8-bit weight needs [out, in] with in a multiple of {BlockSize}, got [{string.Join(", ", weight.shape)}]");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long rows = weight.shape[0], blocks = weight.shape[1] / BlockSize;
        var w = weight.detach().to(ScalarType.Float32).view(rows, blocks, BlockSize);
        var scale = w.abs().amax([-1L], keepdim: true) / 127;
        var inverse = where(scale.eq(0), zeros_like(scale), scale.reciprocal());
        var q = (w * inverse).round().clamp(-127, 127).to(ScalarType.Int8).view(rows, -1).contiguous();
        return new Q8Matrix(q, scale.view(rows, blocks).contiguous());
    }

    /// <summary>The weight as dequantised floats [out, in] (for a product the kernels do not take: a gradient, a prompt
    /// without AVX-512).</summary>
    public Tensor Dequantize(ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var w = values.view(Rows, -1, BlockSize).to(ScalarType.Float32) * scales.unsqueeze(-1);
        return w.view(Rows, Columns).to(dtype).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        values.Dispose();
        scales.Dispose();
    }

    public long Bytes => values.numel() + scales.numel() * sizeof(float);

    /// <summary>The stored form: int8 values [Rows, Columns] and fp32 scales [Rows, Columns / 32], owned by this matrix.</summary>
    internal (Tensor Values, Tensor Scales) Stored => (values, scales);

    /// <summary>y = x W^T for <paramref name="rows"/> input rows x [rows, Columns] into y [rows, Rows], the output rows
    /// split across <paramref name="threads"/> threads.</summary>
    public void Multiply(ReadOnlySpan<float> x, int rows, Span<float> y, int threads)
    {
        if (!TakesRows(rows)) throw new ArgumentOutOfRangeException(nameof(rows), $"1 to {MaxRows} input rows, or more with AVX-512, got {rows}");
        if (x.Length < rows * Columns || y.Length < rows * Rows) throw new ArgumentException("x or y is smaller than the shapes say");
        unsafe
        {
            if (rows > MaxRows)
            {
                fixed (byte* weightBytes = values.bytes, scaleBytes = scales.bytes)
                    Q8PromptProduct.Multiply((sbyte*)weightBytes, (float*)scaleBytes, Columns, Rows, x, rows, y, threads);
                return;
            }
            fixed (float* xp = x, yp = y)
            {
                var (input, output) = ((nint)xp, (nint)yp);
                OutputRowSplit.Run(Rows, threads, (first, end) => MultiplyOutputRows(first, end, input, rows, output, Rows));
            }
        }
    }

    /// <summary>Output rows [first, end) for at most <see cref="MaxRows"/> input rows (<see cref="ProductRows"/>): what
    /// <see cref="Multiply"/> splits across the cores, and <see cref="FusedProjections"/> together with other products of the
    /// same input.</summary>
    internal unsafe void MultiplyOutputRows(int first, int end, nint x, int rows, nint y, int outputs)
    {
        if (rows == 1 && Avx2.IsSupported && Fma.IsSupported) MultiplyOneRow(first, end, (float*)x, (float*)y);
        else MultiplyRows(first, end, (float*)x, rows, (float*)y, outputs);
    }

    /// <summary>Whether <see cref="Multiply"/> takes this many input rows: a few on any CPU, a prompt's many with AVX-512
    /// (<see cref="Q8PromptProduct"/>).</summary>
    public bool TakesRows(long rows) => rows is >= 1 and <= MaxRows || (rows > MaxRows && Q8PromptProduct.Applies(Columns));

    /// <summary>One input row (a single sequence's decoding step): two blocks at a time, so that their chains of
    /// multiply-adds overlap. Output o goes to y[o].</summary>
    // Optimised at once: tiered compilation would first run these loops unoptimised, for a short generation throughout.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void MultiplyOneRow(int first, int end, float* x, float* y)
    {
        int blocks = Columns / BlockSize;
        fixed (byte* weightBytes = values.bytes, scaleBytes = scales.bytes)
        {
            var weights = (sbyte*)weightBytes;
            var scale = (float*)scaleBytes;
            for (int o = first; o < end; o++)
            {
                var row = weights + (long)o * Columns;
                var scales = scale + (long)o * blocks;
                Vector256<float> even = Vector256<float>.Zero, odd = even;
                int b = 0;
                for (; b + 2 <= blocks; b += 2)
                {
                    even = Fma.MultiplyAdd(BlockDot(row + b * BlockSize, x + b * BlockSize), Vector256.Create(scales[b]), even);
                    odd = Fma.MultiplyAdd(BlockDot(row + (b + 1) * BlockSize, x + (b + 1) * BlockSize), Vector256.Create(scales[b + 1]), odd);
                }
                if (b < blocks) even = Fma.MultiplyAdd(BlockDot(row + b * BlockSize, x + b * BlockSize), Vector256.Create(scales[b]), even);
                y[o] = Vector256.Sum(even + odd);
            }
        }
    }

    /// <summary>The 32 products of a block's weights with x, summed into 8 lanes (before the block's scale).</summary>
    static unsafe Vector256<float> BlockDot(sbyte* q, float* x) =>
        Dot(Widen(q), Widen(q + 8), Widen(q + 16), Widen(q + 24), x);

    /// <summary>Eight int8 weights as floats.</summary>
    static unsafe Vector256<float> Widen(sbyte* q) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void MultiplyRows(int first, int end, float* x, int rows, float* y, int outputs)
    {
        int blocks = Columns / BlockSize;
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            MultiplyRowsPortably(first, end, x, rows, y, outputs);
            return;
        }
        fixed (byte* weightBytes = values.bytes, scaleBytes = scales.bytes)
        {
            var weights = (sbyte*)weightBytes;
            var scale = (float*)scaleBytes;
            for (int o = first; o < end; o++)
            {
                var row = weights + (long)o * Columns;
                // Four input rows at a time, one accumulator in a register each; a short last group repeats its last row.
                for (int r = 0; r < rows; r += 4)
                {
                    float* x0 = x + r * Columns, x1 = x + Math.Min(r + 1, rows - 1) * Columns;
                    float* x2 = x + Math.Min(r + 2, rows - 1) * Columns, x3 = x + Math.Min(r + 3, rows - 1) * Columns;
                    Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                    for (int b = 0; b < blocks; b++)
                    {
                        // 32 weights as four vectors of 8 floats, reused for the four input rows.
                        var q = row + b * BlockSize;
                        var (w0, w1, w2, w3) = (Widen(q), Widen(q + 8), Widen(q + 16), Widen(q + 24));
                        var d = Vector256.Create(scale[(long)o * blocks + b]);
                        int at = b * BlockSize;
                        a0 = Fma.MultiplyAdd(Dot(w0, w1, w2, w3, x0 + at), d, a0);
                        a1 = Fma.MultiplyAdd(Dot(w0, w1, w2, w3, x1 + at), d, a1);
                        a2 = Fma.MultiplyAdd(Dot(w0, w1, w2, w3, x2 + at), d, a2);
                        a3 = Fma.MultiplyAdd(Dot(w0, w1, w2, w3, x3 + at), d, a3);
                    }
                    OutputRowSplit.StoreFour(y, outputs, o, r, rows, a0, a1, a2, a3);
                }
            }
        }
    }

    /// <summary>The 32 products of a block's widened weights with x, summed into 8 lanes (before the block's scale).</summary>
    static unsafe Vector256<float> Dot(Vector256<float> w0, Vector256<float> w1, Vector256<float> w2, Vector256<float> w3, float* x)
    {
        var dot = Avx.Multiply(w0, Avx.LoadVector256(x));
        dot = Fma.MultiplyAdd(w1, Avx.LoadVector256(x + 8), dot);
        dot = Fma.MultiplyAdd(w2, Avx.LoadVector256(x + 16), dot);
        return Fma.MultiplyAdd(w3, Avx.LoadVector256(x + 24), dot);
    }

    unsafe void MultiplyRowsPortably(int first, int end, float* x, int rows, float* y, int outputs)
    {
        int blocks = Columns / BlockSize;
        var weights = MemoryMarshal.Cast<byte, sbyte>(values.bytes);
        var scale = MemoryMarshal.Cast<byte, float>(scales.bytes);
        for (int o = first; o < end; o++)
            for (int r = 0; r < rows; r++)
            {
                float sum = 0;
                for (int b = 0; b < blocks; b++)
                {
                    float block = 0;
                    for (int i = 0; i < BlockSize; i++) block += weights[o * Columns + b * BlockSize + i] * x[r * Columns + b * BlockSize + i];
                    sum += block * scale[o * blocks + b];
                }
                y[r * outputs + o] = sum;
            }
    }
}
