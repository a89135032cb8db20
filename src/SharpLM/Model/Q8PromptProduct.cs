using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpLM.Model;

/// <summary>
/// <c>y = x W^T</c> for a prompt's many rows over 8-bit weights (<see cref="Q8Matrix"/>), in integers. Each 32-value block
/// of a row of x is rounded to 16-bit integers with its own scale (max|x| / 32767: about 4.5 significant digits, where
/// llama.cpp's Q8_0 rounds activations to 8 bits and bf16 to 3); AVX-512 BW's <c>vpmaddwd</c> multiplies 32 of them by
/// 8-bit weights widened to 16 bits and adds the pairs (32 multiply-adds an instruction, an fp32 FMA does 16), and each
/// block's integer sums are scaled into fp32 sums once per block. A row's result does not depend on how many rows come
/// at once or on the thread count. libtorch has no such product, and its bf16 one wakes OpenMP's sleeping threads for
/// every projection; this one runs on <see cref="SpinningWorkers"/>.
/// <para>The tile: 32 rows of x (two vectors of 16 rows, one lane per row, so x is stored transposed) by 6 outputs, 12
/// integer and 12 fp32 sums in registers; each output's weights are broadcast a pair at a time. The 6 outputs' weights
/// are widened once (<see cref="Pack"/>) for every 128 rows.</para>
/// </summary>
static unsafe class Q8PromptProduct
{
    const int BlockSize = Q8Matrix.BlockSize, Pairs = BlockSize / 2, GroupRows = 32, TileOutputs = 6;

    /// <summary>Row groups that share one packing of a tile's weights; their quantised x (64 bytes a column each) stays in L2.</summary>
    const int RowBlockGroups = 4;

    /// <summary>Whether this CPU can run it for inputs of <paramref name="columns"/> features.</summary>
    public static bool Applies(long columns) => Avx512BW.IsSupported && columns % BlockSize == 0 && columns > 0;

    /// <summary>x [rows, columns] times the 8-bit weights (<paramref name="values"/> int8 [outputs, columns],
    /// <paramref name="scales"/> fp32 [outputs, columns / 32]) into y [rows, outputs], the outputs split across up to
    /// <paramref name="threads"/> threads.</summary>
    public static void Multiply(sbyte* values, float* scales, int columns, int outputs, ReadOnlySpan<float> x, int rows, Span<float> y,
        int threads)
    {
        if (!Applies(columns)) throw new InvalidOperationException($"Q8PromptProduct needs AVX-512 BW and columns a multiple of {BlockSize}");
        if (x.Length < (long)rows * columns || y.Length < (long)rows * outputs) throw new ArgumentException("x or y is smaller than the shapes say");
        int groups = (rows + GroupRows - 1) / GroupRows, blocks = columns / BlockSize;
        var quantised = ArrayPool<int>.Shared.Rent(groups * GroupRows * columns / 2);
        var rowScales = ArrayPool<float>.Shared.Rent(groups * GroupRows * blocks);
        try
        {
            fixed (float* xp = x, yp = y)
            fixed (int* xq = quantised)
            fixed (float* xs = rowScales)
            {
                var (input, output, q, s) = ((nint)xp, (nint)yp, (nint)xq, (nint)xs);
                OutputRowSplit.Run(groups * GroupRows, threads, (first, end) =>
                    Quantise((float*)input, rows, columns, first, end, (int*)q, (float*)s));
                OutputRowSplit.Run(outputs, threads, (first, end) =>
                    Range((sbyte*)values, (float*)scales, columns, outputs, (int*)q, (float*)s, rows, (float*)output, first, end));
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(quantised);
            ArrayPool<float>.Shared.Return(rowScales);
        }
    }

    /// <summary>Rows [first, end) of x as 16-bit integers, stored per group of 32 rows as [column pair][row] (each int holds
    /// two columns' values) with their scales as [block][row]; rows past <paramref name="rows"/> are zeros.</summary>
    static void Quantise(float* x, int rows, int columns, int first, int end, int* q, float* scales)
    {
        int blocks = columns / BlockSize;
        var block = stackalloc short[BlockSize];
        for (int r = first; r < end; r++)
        {
            int* group = q + (long)(r / GroupRows) * GroupRows * (columns / 2);
            float* groupScales = scales + (long)(r / GroupRows) * GroupRows * blocks;
            int lane = r % GroupRows;
            for (int b = 0; b < blocks; b++)
            {
                float scale = 0;
                if (r < rows)
                {
                    var v0 = Vector512.Load(x + (long)r * columns + b * BlockSize);
                    var v1 = Vector512.Load(x + (long)r * columns + b * BlockSize + 16);
                    float max = MaxLane(Vector512.Max(Vector512.Abs(v0), Vector512.Abs(v1)));
                    scale = max / short.MaxValue;
                    var inverse = Vector512.Create(max > 0 ? short.MaxValue / max : 0);
                    Avx512F.ConvertToVector256Int16(Avx512F.ConvertToVector512Int32(v0 * inverse)).Store(block);
                    Avx512F.ConvertToVector256Int16(Avx512F.ConvertToVector512Int32(v1 * inverse)).Store(block + 16);
                }
                else new Span<short>(block, BlockSize).Clear();
                groupScales[b * GroupRows + lane] = scale;
                var pairs = (int*)block;
                for (int p = 0; p < Pairs; p++) group[(long)(b * Pairs + p) * GroupRows + lane] = pairs[p];
            }
        }
    }

    static float MaxLane(Vector512<float> v)
    {
        var half = Vector256.Max(v.GetLower(), v.GetUpper());
        var quarter = Vector128.Max(half.GetLower(), half.GetUpper());
        quarter = Vector128.Max(quarter, Vector128.Shuffle(quarter, Vector128.Create(2, 3, 0, 1)));
        return MathF.Max(quarter.GetElement(0), quarter.GetElement(1));
    }

    /// <summary>Outputs [first, end): 6 at a time, packed once per row block and multiplied by every 32 rows in it.</summary>
    static void Range(sbyte* values, float* scales, int columns, int outputs, int* q, float* xs, int rows, float* y, int first, int end)
    {
        int blocks = columns / BlockSize, groups = (rows + GroupRows - 1) / GroupRows;
        var packed = ArrayPool<short>.Shared.Rent(columns * TileOutputs);
        var packedScales = ArrayPool<float>.Shared.Rent(blocks * TileOutputs);
        var sums = stackalloc float[GroupRows * TileOutputs];
        try
        {
            fixed (short* wp = packed)
            fixed (float* ws = packedScales)
                for (int g0 = 0; g0 < groups; g0 += RowBlockGroups)
                    for (int o = first; o < end; o += TileOutputs)
                    {
                        int count = Math.Min(TileOutputs, end - o);
                        Pack(values, scales, columns, o, count, wp, ws);
                        for (int g = g0; g < Math.Min(groups, g0 + RowBlockGroups); g++)
                        {
                            Tile(q + (long)g * GroupRows * (columns / 2), xs + (long)g * GroupRows * blocks, blocks, (int*)wp, columns / 2, ws, sums);
                            int r0 = g * GroupRows;
                            for (int r = r0; r < Math.Min(rows, r0 + GroupRows); r++)
                                for (int c = 0; c < count; c++) y[(long)r * outputs + o + c] = sums[c * GroupRows + r - r0];
                        }
                    }
        }
        finally
        {
            ArrayPool<short>.Shared.Return(packed);
            ArrayPool<float>.Shared.Return(packedScales);
        }
    }

    /// <summary>The weights of outputs o .. o+count-1 widened to 16 bits, [output][column], and their scales as
    /// [block][output]; a short tile repeats its last output.</summary>
    static void Pack(sbyte* values, float* scales, int columns, int o, int count, short* wide, float* packedScales)
    {
        int blocks = columns / BlockSize;
        for (int c = 0; c < TileOutputs; c++)
        {
            int output = o + Math.Min(c, count - 1);
            sbyte* row = values + (long)output * columns;
            for (int k = 0; k < columns; k += BlockSize)
                Avx512BW.ConvertToVector512Int16(Vector256.Load(row + k)).Store(wide + c * columns + k);
            for (int b = 0; b < blocks; b++) packedScales[b * TileOutputs + c] = scales[(long)output * blocks + b];
        }
    }

    /// <summary>The sums of 32 rows (one quantised group) by 6 packed outputs over all columns, into sums [output][row].</summary>
    // Optimised at once, and with nothing called in the loop: a call there makes the JIT spill the sums every iteration.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(int* q, float* xs, int blocks, int* w, int stride, float* ws, float* sums)
    {
        Vector512<float> f00 = default, f01 = default, f02 = default, f03 = default, f04 = default, f05 = default;
        Vector512<float> f10 = default, f11 = default, f12 = default, f13 = default, f14 = default, f15 = default;
        for (int b = 0; b < blocks; b++)
        {
            Vector512<int> a00 = default, a01 = default, a02 = default, a03 = default, a04 = default, a05 = default;
            Vector512<int> a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
            int* x = q + b * Pairs * GroupRows;
            int* w0 = w + b * Pairs, w1 = w0 + stride, w2 = w1 + stride, w3 = w2 + stride, w4 = w3 + stride, w5 = w4 + stride;
            for (int p = 0; p < Pairs; p++, x += GroupRows)
            {
                var (x0, x1) = (Vector512.Load(x).AsInt16(), Vector512.Load(x + 16).AsInt16());
                var u = Vector512.Create(w0[p]).AsInt16();
                (a00, a10) = (a00 + Avx512BW.MultiplyAddAdjacent(x0, u), a10 + Avx512BW.MultiplyAddAdjacent(x1, u));
                u = Vector512.Create(w1[p]).AsInt16();
                (a01, a11) = (a01 + Avx512BW.MultiplyAddAdjacent(x0, u), a11 + Avx512BW.MultiplyAddAdjacent(x1, u));
                u = Vector512.Create(w2[p]).AsInt16();
                (a02, a12) = (a02 + Avx512BW.MultiplyAddAdjacent(x0, u), a12 + Avx512BW.MultiplyAddAdjacent(x1, u));
                u = Vector512.Create(w3[p]).AsInt16();
                (a03, a13) = (a03 + Avx512BW.MultiplyAddAdjacent(x0, u), a13 + Avx512BW.MultiplyAddAdjacent(x1, u));
                u = Vector512.Create(w4[p]).AsInt16();
                (a04, a14) = (a04 + Avx512BW.MultiplyAddAdjacent(x0, u), a14 + Avx512BW.MultiplyAddAdjacent(x1, u));
                u = Vector512.Create(w5[p]).AsInt16();
                (a05, a15) = (a05 + Avx512BW.MultiplyAddAdjacent(x0, u), a15 + Avx512BW.MultiplyAddAdjacent(x1, u));
            }
            var (s0, s1) = (Vector512.Load(xs + b * GroupRows), Vector512.Load(xs + b * GroupRows + 16));
            float* sw = ws + b * TileOutputs;
            (f00, f10) = (Scaled(a00, s0, sw[0], f00), Scaled(a10, s1, sw[0], f10));
            (f01, f11) = (Scaled(a01, s0, sw[1], f01), Scaled(a11, s1, sw[1], f11));
            (f02, f12) = (Scaled(a02, s0, sw[2], f02), Scaled(a12, s1, sw[2], f12));
            (f03, f13) = (Scaled(a03, s0, sw[3], f03), Scaled(a13, s1, sw[3], f13));
            (f04, f14) = (Scaled(a04, s0, sw[4], f04), Scaled(a14, s1, sw[4], f14));
            (f05, f15) = (Scaled(a05, s0, sw[5], f05), Scaled(a15, s1, sw[5], f15));
        }
        f00.Store(sums); f10.Store(sums + 16);
        f01.Store(sums + 32); f11.Store(sums + 48);
        f02.Store(sums + 64); f12.Store(sums + 80);
        f03.Store(sums + 96); f13.Store(sums + 112);
        f04.Store(sums + 128); f14.Store(sums + 144);
        f05.Store(sums + 160); f15.Store(sums + 176);
    }

    /// <summary>A block's integer sums times the rows' and the output's scales, added to the fp32 sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Scaled(Vector512<int> sums, Vector512<float> rowScales, float weightScale, Vector512<float> total) =>
        Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sums), rowScales * Vector512.Create(weightScale), total);
}
