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
/// A quarter of fp32's bytes per weight is a quarter of the memory traffic.
/// </summary>
public sealed class Q8Matrix : IDisposable
{
    public const int BlockSize = 32;

    /// <summary>Most input rows <see cref="Multiply"/> takes at once (one decoding step of a full batch).</summary>
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

    /// <summary>The weight as dequantised floats [out, in] (for a prompt's many rows, which libtorch multiplies faster).</summary>
    public Tensor Dequantize(ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var w = values.view(Rows, -1, BlockSize).to(ScalarType.Float32) * scales.unsqueeze(-1);
        return w.view(Rows, Columns).to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Input rows from which a product runs in bf16 (<see cref="MultipliesInBf16"/>): measured on Zen 4 with 2 threads,
    /// 64 rows through libtorch's bf16 matmul ran 1.2-1.6x the 8-bit kernel at 768 x 768 and larger, 128 rows 1.4-2.6x.</summary>
    public const int Bf16Rows = 64;

    /// <summary>Whether the CPU has AVX512_BF16 (CPUID leaf 7, sub-leaf 1, EAX bit 5), with which libtorch's bf16 matmul
    /// multiplies at about twice fp32's rate. .NET exposes no class for it, so CPUID is asked directly.</summary>
    static readonly bool hasBf16Products = X86Base.IsSupported && Avx512F.IsSupported && (X86Base.CpuId(7, 1).Eax & (1 << 5)) != 0;

    /// <summary>Whether a product of this many input rows runs as libtorch's bf16 matmul over <see cref="DequantizeBf16"/>
    /// rather than on the 8-bit kernel: a prompt of at least <see cref="Bf16Rows"/> rows on a CPU with AVX512_BF16. Like
    /// llama.cpp's Q8_0, which rounds activations to 8 bits, this gives up some precision for prefill speed: the products'
    /// inputs and results are rounded to bf16 (about 3 significant digits), while their sums accumulate in fp32.</summary>
    public static bool MultipliesInBf16(long rows) => hasBf16Products && rows >= Bf16Rows;

    /// <summary>The weight as bf16 [out, in], each value rounded from its fp32 dequantisation as libtorch rounds (so the
    /// same as <c>Dequantize().to(bfloat16)</c>), the rows split across <paramref name="threads"/> threads.</summary>
    public Tensor DequantizeBf16(int threads)
    {
        var output = empty([Rows, Columns], ScalarType.BFloat16, device: CPU);
        unsafe
        {
            fixed (byte* weightBytes = values.bytes, scaleBytes = scales.bytes, outputBytes = output.bytes)
            {
                var (weights, scale, bf16) = ((nint)weightBytes, (nint)scaleBytes, (nint)outputBytes);
                OutputRowSplit.Run(Rows, threads, (first, end) => DequantizeRows(first, end, (sbyte*)weights, (float*)scale, (ushort*)bf16));
            }
        }
        return output;
    }

    /// <summary>Rows [first, end) of <see cref="DequantizeBf16"/>: 16 values at a time with AVX-512, else through fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void DequantizeRows(int first, int end, sbyte* weights, float* scale, ushort* bf16)
    {
        int blocks = Columns / BlockSize;
        if (!Avx512F.IsSupported)
        {
            var row = new float[Columns];
            for (int o = first; o < end; o++)
            {
                for (int c = 0; c < Columns; c++) row[c] = weights[(long)o * Columns + c] * scale[(long)o * blocks + c / BlockSize];
                Bf16Values.Round(row, new Span<ushort>(bf16 + (long)o * Columns, Columns));
            }
            return;
        }
        for (int o = first; o < end; o++)
            for (int b = 0; b < blocks; b++)
            {
                var d = Vector512.Create(scale[(long)o * blocks + b]);
                long at = (long)o * Columns + b * BlockSize;
                for (int i = 0; i < BlockSize; i += 16)
                {
                    var wide = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(weights + at + i))) * d;
                    Avx512F.ConvertToVector256UInt16(Bf16Values.Round(wide)).Store(bf16 + at + i);
                }
            }
    }

    public void Dispose()
    {
        values.Dispose();
        scales.Dispose();
    }

    public long Bytes => values.numel() + scales.numel() * sizeof(float);

    /// <summary>y = x W^T for <paramref name="rows"/> input rows x [rows, Columns] into y [rows, Rows], the output rows
    /// split across <paramref name="threads"/> threads.</summary>
    public void Multiply(ReadOnlySpan<float> x, int rows, Span<float> y, int threads)
    {
        if (rows < 1 || (rows > MaxRows && !PromptProduct.Applies(Columns)))
            throw new ArgumentOutOfRangeException(nameof(rows), $"1 to {MaxRows} input rows, or more with AVX-512, got {rows}");
        if (x.Length < rows * Columns || y.Length < rows * Rows) throw new ArgumentException("x or y is smaller than the shapes say");
        unsafe
        {
            if (rows > MaxRows)
            {
                fixed (byte* weightBytes = values.bytes, scaleBytes = scales.bytes)
                    PromptProduct.Multiply(new Blocks((sbyte*)weightBytes, (float*)scaleBytes, Columns), x, rows, Columns, Rows, y, threads);
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

    /// <summary>Whether <see cref="Multiply"/> takes this many input rows: a few on any CPU, a prompt's many with AVX-512.</summary>
    public bool TakesRows(long rows) => rows is >= 1 and <= MaxRows || (rows > MaxRows && PromptProduct.Applies(Columns));

    /// <summary>Blocks of the weights decoded to fp32 for <see cref="PromptProduct"/>: each is then multiplied by a whole
    /// block of a prompt's rows, so decoding it costs little next to its products.</summary>
    readonly unsafe struct Blocks(sbyte* values, float* scales, int columns) : IWeightBlocks
    {
        public float* Block(int o, int count, int k0, int depth, float* scratch, out int stride)
        {
            stride = depth;
            int blocks = columns / BlockSize;
            for (int i = 0; i < count; i++)
            {
                var row = values + (long)(o + i) * columns;
                var rowScales = scales + (long)(o + i) * blocks;
                for (int c = 0; c < depth; c += 16)
                {
                    var wide = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + k0 + c)));
                    (wide * Vector512.Create(rowScales[(k0 + c) / BlockSize])).Store(scratch + i * depth + c);
                }
            }
            return scratch;
        }
    }

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
