using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpLM.Model;

/// <summary>
/// <c>y = x W^T</c> for many rows of x (a prompt's prefill, evaluation without gradients, training's forward), in fp32, on
/// AVX-512. libtorch's fp32 matmul reaches about 90 GFLOP/s per core at a prompt's shapes here and gains little from a
/// second thread. Up to <see cref="PackedRows"/> rows, a tile keeps 4 input rows x 6 outputs of 16-lane sums in registers
/// (24 of the 32) and reads each loaded vector 4 or 6 times, inputs blocked (<see cref="DepthBlock"/>) so a tile's weights
/// stay in L1 and <see cref="RowBlock"/> rows of x in L2. From there the weights are first copied transposed into panels
/// that <see cref="BackwardProduct"/>'s tile reads (<see cref="PackedRange"/>). Either way the outputs are split across the
/// cores (<see cref="OutputRowSplit"/>) and each output is one thread's sum in a fixed order.
/// </summary>
static unsafe class PromptProduct
{
    public const int TileRows = 4, TileOutputs = 6, DepthBlock = 512, RowBlock = 128;

    /// <summary>Rows from which the weights are packed (<see cref="PackedRange"/>); fewer rows would not repay the copy.</summary>
    public const int PackedRows = 256;

    /// <summary>Inputs per packed panel: up to 1,024, so a tile's 6 rows of x over them (24 KB) stay in L1 while it reads
    /// each column group of the panel.</summary>
    const int PackedDepth = 1024;

    /// <summary>Bytes of one packed panel: 768 KB, in L2 (2 MB a core) beside a block of x while every row's tiles read it.</summary>
    const int PanelBytes = 768 * 1024;

    /// <summary>Whether this CPU can run it, for inputs of <paramref name="columns"/> features (a multiple of 16).</summary>
    public static bool Applies(long columns) => Avx512F.IsSupported && columns % 16 == 0 && columns > 0;

    /// <summary>x [rows, in] times a contiguous fp32 weight [out, in] in CPU memory, into y [rows, out], the outputs split
    /// across up to <paramref name="threads"/> threads.</summary>
    public static void Multiply(TorchSharp.torch.Tensor weight, ReadOnlySpan<float> x, int rows, Span<float> y, int threads)
    {
        int outputs = (int)weight.size(0), columns = (int)weight.size(1);
        if (!Applies(columns)) throw new InvalidOperationException($"PromptProduct needs AVX-512 and columns a multiple of 16, got {columns}");
        if (x.Length < (long)rows * columns || y.Length < (long)rows * outputs) throw new ArgumentException("x or y is smaller than the shapes say");
        fixed (byte* wp = weight.bytes)
        fixed (float* xp = x, yp = y)
        {
            var (w, input, output) = ((nint)wp, (nint)xp, (nint)yp);
            if (rows < PackedRows)
            {
                OutputRowSplit.Run(outputs, threads, (first, end) =>
                    Range((float*)w, (float*)input, rows, columns, outputs, (float*)output, first, end));
                return;
            }
            // Whole vectors of 16 outputs split across the threads, at least a tile's 64 each; the last few outputs (fewer
            // than 16) on the dot-product tile.
            int vectors = outputs / 16;
            OutputRowSplit.Split(vectors, Math.Clamp(threads, 1, Math.Max(1, vectors / BackwardProduct.TileVectors)), (first, end) =>
                PackedRange((float*)w, (float*)input, rows, columns, outputs, (float*)output, first * 16, end * 16));
            if (vectors * 16 < outputs) Range((float*)w, (float*)input, rows, columns, outputs, (float*)output, vectors * 16, outputs);
        }
    }

    /// <summary>Outputs [first, end) (whole vectors of 16) for every row: the weights of as many outputs as fit a panel of
    /// <see cref="PanelBytes"/>, over up to <see cref="PackedDepth"/> inputs, are copied transposed into [inputs][64 outputs]
    /// per 64 outputs, which <see cref="BackwardProduct.Tile"/> reads as rows of B, 6 input rows x 64 outputs of sums in
    /// registers. Unlike <see cref="Tile"/>'s dot products it needs no sum across lanes and loads 4 vectors (not 10) per 24
    /// multiply-adds: measured 177-200 GFLOP/s against 141-187 for training's shapes (2,048 rows) on two Zen 4 cores. A
    /// panel as deep as the inputs (up to 1,024) writes each output once, not once per 256 inputs, and a panel of 512 outputs
    /// (at 384 inputs) reads x half as often as one of 256: at training's shapes on two Emerald Rapids cores, 301-332 GFLOP/s
    /// against 285-300 with panels of 256 x 256.</summary>
    static void PackedRange(float* weights, float* x, int rows, int columns, int outputs, float* y, int first, int end)
    {
        const int groupOutputs = BackwardProduct.TileVectors * 16;
        int panelDepth = Math.Min(columns, PackedDepth);
        int panelOutputs = Math.Max(groupOutputs, PanelBytes / (panelDepth * sizeof(float)) / groupOutputs * groupOutputs);
        var panel = (float*)NativeMemory.AlignedAlloc((nuint)(panelDepth * panelOutputs * sizeof(float)), 64);
        try
        {
            for (int n0 = first; n0 < end; n0 += panelOutputs)
            {
                int count = Math.Min(panelOutputs, end - n0);
                for (int k0 = 0; k0 < columns; k0 += panelDepth)
                {
                    int depth = Math.Min(panelDepth, columns - k0);
                    Pack(weights + (long)n0 * columns + k0, columns, count, depth, panel);
                    for (int r = 0; r < rows; r += BackwardProduct.TileRows)
                    for (int g = 0; g < count; g += groupOutputs)
                        BackwardProduct.Tile(x + (long)r * columns + k0, columns, 1, Math.Min(BackwardProduct.TileRows, rows - r),
                            panel + (long)g * depth, groupOutputs, Math.Min(BackwardProduct.TileVectors, (count - g) / 16),
                            y + (long)r * outputs + n0 + g, outputs, depth, accumulate: k0 > 0);
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(panel);
        }
    }

    /// <summary>The weights of <paramref name="count"/> outputs (rows <paramref name="ldw"/> floats apart) over
    /// <paramref name="depth"/> inputs, transposed into panels of 64 outputs: panel g holds [depth][64] from
    /// <c>g * depth</c> floats (its last panel's unused columns are never read). Both counts are multiples of 16, moved as
    /// 16 x 16 blocks transposed in registers: one float at a time, every store went to another cache line, and packing
    /// took 3 % of a training step.</summary>
    static void Pack(float* w, int ldw, int count, int depth, float* panel)
    {
        const int groupOutputs = BackwardProduct.TileVectors * 16;
        for (int n = 0; n < count; n += 16)
        {
            float* group = panel + (long)(n / groupOutputs * groupOutputs) * depth + n % groupOutputs;
            for (int k = 0; k < depth; k += 16)
                Transpose16(w + (long)n * ldw + k, ldw, group + (long)k * groupOutputs, groupOutputs);
        }
    }

    /// <summary>16 rows of 16 floats (<paramref name="ld"/> apart) into 16 rows of 16 (<paramref name="ldt"/> apart),
    /// transposed: <c>t[k][n] = source[n][k]</c>.</summary>
    static void Transpose16(float* source, long ld, float* t, long ldt)
    {
        // Rows 4q .. 4q+3 interleaved: quad[e] holds, in each 128-bit lane l, their elements 4l + e.
        var (a0, a1, a2, a3) = Quad(source, ld);
        var (b0, b1, b2, b3) = Quad(source + 4 * ld, ld);
        var (c0, c1, c2, c3) = Quad(source + 8 * ld, ld);
        var (d0, d1, d2, d3) = Quad(source + 12 * ld, ld);
        StoreLanes(a0, b0, c0, d0, t, ldt);
        StoreLanes(a1, b1, c1, d1, t + ldt, ldt);
        StoreLanes(a2, b2, c2, d2, t + 2 * ldt, ldt);
        StoreLanes(a3, b3, c3, d3, t + 3 * ldt, ldt);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) Quad(float* source, long ld)
    {
        var (r0, r1, r2, r3) = (Vector512.Load(source), Vector512.Load(source + ld), Vector512.Load(source + 2 * ld),
            Vector512.Load(source + 3 * ld));
        var (low01, high01) = (Avx512F.UnpackLow(r0, r1).AsDouble(), Avx512F.UnpackHigh(r0, r1).AsDouble());
        var (low23, high23) = (Avx512F.UnpackLow(r2, r3).AsDouble(), Avx512F.UnpackHigh(r2, r3).AsDouble());
        return (Avx512F.UnpackLow(low01, low23).AsSingle(), Avx512F.UnpackHigh(low01, low23).AsSingle(),
            Avx512F.UnpackLow(high01, high23).AsSingle(), Avx512F.UnpackHigh(high01, high23).AsSingle());
    }

    /// <summary>Lane l of four quads (rows 0-3, 4-7, 8-11, 12-15 at one element of each lane) as row <c>4 l</c> of t.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreLanes(Vector512<float> q0, Vector512<float> q1, Vector512<float> q2, Vector512<float> q3, float* t, long ldt)
    {
        var (low01, high01) = (Avx512F.Shuffle4x128(q0, q1, 0x44), Avx512F.Shuffle4x128(q0, q1, 0xEE));
        var (low23, high23) = (Avx512F.Shuffle4x128(q2, q3, 0x44), Avx512F.Shuffle4x128(q2, q3, 0xEE));
        Avx512F.Shuffle4x128(low01, low23, 0x88).Store(t);
        Avx512F.Shuffle4x128(low01, low23, 0xDD).Store(t + 4 * ldt);
        Avx512F.Shuffle4x128(high01, high23, 0x88).Store(t + 8 * ldt);
        Avx512F.Shuffle4x128(high01, high23, 0xDD).Store(t + 12 * ldt);
    }

    static void Range(float* weights, float* x, int rows, int columns, int outputs, float* y, int first, int end)
    {
        for (int m0 = 0; m0 < rows; m0 += RowBlock)
        {
            int mEnd = Math.Min(rows, m0 + RowBlock);
            for (int k0 = 0; k0 < columns; k0 += DepthBlock)
            {
                int depth = Math.Min(DepthBlock, columns - k0);
                for (int o = first; o < end; o += TileOutputs)
                {
                    int count = Math.Min(TileOutputs, end - o);
                    var w = weights + (long)o * columns + k0;
                    for (int r = m0; r < mEnd; r += TileRows)
                        Tile(x + (long)r * columns + k0, columns, Math.Min(TileRows, mEnd - r), w, columns, count,
                            y + (long)r * outputs + o, outputs, depth, accumulate: k0 > 0);
                }
            }
        }
    }

    /// <summary>The sums over one block of inputs for up to 4 rows x 6 outputs, written to y (or added to it after the
    /// first block). A short tile repeats its last row or output and stores only the real ones.</summary>
    // Optimised at once, and with nothing called after the loop: a call there makes the JIT spill the sums every iteration.
    // One statement per sum: assigned as tuples, the sums went through extra register copies each step.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(float* x, int ldx, int rowCount, float* w, int ldw, int outputCount, float* y, int ldy, int depth,
        bool accumulate)
    {
        float* x0 = x, x1 = x + Math.Min(1, rowCount - 1) * (long)ldx;
        float* x2 = x + Math.Min(2, rowCount - 1) * (long)ldx, x3 = x + Math.Min(3, rowCount - 1) * (long)ldx;
        float* w0 = w, w1 = w + Math.Min(1, outputCount - 1) * (long)ldw, w2 = w + Math.Min(2, outputCount - 1) * (long)ldw;
        float* w3 = w + Math.Min(3, outputCount - 1) * (long)ldw, w4 = w + Math.Min(4, outputCount - 1) * (long)ldw;
        float* w5 = w + Math.Min(5, outputCount - 1) * (long)ldw;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default, s04 = default, s05 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default, s14 = default, s15 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default, s24 = default, s25 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default, s34 = default, s35 = default;
        for (int c = 0; c < depth; c += 16)
        {
            var (v0, v1, v2, v3) = (Vector512.Load(x0 + c), Vector512.Load(x1 + c), Vector512.Load(x2 + c), Vector512.Load(x3 + c));
            var u = Vector512.Load(w0 + c);
            s00 = Fma(v0, u, s00); s10 = Fma(v1, u, s10); s20 = Fma(v2, u, s20); s30 = Fma(v3, u, s30);
            u = Vector512.Load(w1 + c);
            s01 = Fma(v0, u, s01); s11 = Fma(v1, u, s11); s21 = Fma(v2, u, s21); s31 = Fma(v3, u, s31);
            u = Vector512.Load(w2 + c);
            s02 = Fma(v0, u, s02); s12 = Fma(v1, u, s12); s22 = Fma(v2, u, s22); s32 = Fma(v3, u, s32);
            u = Vector512.Load(w3 + c);
            s03 = Fma(v0, u, s03); s13 = Fma(v1, u, s13); s23 = Fma(v2, u, s23); s33 = Fma(v3, u, s33);
            u = Vector512.Load(w4 + c);
            s04 = Fma(v0, u, s04); s14 = Fma(v1, u, s14); s24 = Fma(v2, u, s24); s34 = Fma(v3, u, s34);
            u = Vector512.Load(w5 + c);
            s05 = Fma(v0, u, s05); s15 = Fma(v1, u, s15); s25 = Fma(v2, u, s25); s35 = Fma(v3, u, s35);
        }
        var sums = stackalloc float[8];
        Sum6(s00, s01, s02, s03, s04, s05).Store(sums);
        Store(y, sums, outputCount, accumulate);
        if (rowCount < 2) return;
        Sum6(s10, s11, s12, s13, s14, s15).Store(sums);
        Store(y + ldy, sums, outputCount, accumulate);
        if (rowCount < 3) return;
        Sum6(s20, s21, s22, s23, s24, s25).Store(sums);
        Store(y + 2L * ldy, sums, outputCount, accumulate);
        if (rowCount < 4) return;
        Sum6(s30, s31, s32, s33, s34, s35).Store(sums);
        Store(y + 3L * ldy, sums, outputCount, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Avx512F.FusedMultiplyAdd(a, b, c);

    /// <summary>The lane sums of six vectors in lanes 0-5.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Sum6(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, Vector512<float> e,
        Vector512<float> f)
    {
        var ab = Avx.HorizontalAdd(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper());
        var cd = Avx.HorizontalAdd(c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper());
        var ef = Avx.HorizontalAdd(e.GetLower() + e.GetUpper(), f.GetLower() + f.GetUpper());
        // abcd: [a b c d | a b c d] partial sums of the two halves; efef: [e f e f | e f e f].
        var abcd = Avx.HorizontalAdd(ab, cd);
        var efef = Avx.HorizontalAdd(ef, ef);
        return Vector256.Create(abcd.GetLower() + abcd.GetUpper(), efef.GetLower() + efef.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* y, float* sums, int count, bool accumulate)
    {
        if (accumulate) for (int i = 0; i < count; i++) y[i] += sums[i];
        else for (int i = 0; i < count; i++) y[i] = sums[i];
    }
}
