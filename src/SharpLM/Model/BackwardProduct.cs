using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpLM.Model;

/// <summary>
/// <c>C = A B</c> in fp32 on AVX-512 where B's rows are contiguous along C's columns: a projection's backward products,
/// <c>dX = dY W</c> (A = dY) and <c>dW = dY^T X</c> (A = dY read transposed), whose outputs both run along the input
/// features; <see cref="PromptProduct"/> runs its packed weights through the same tile. A reads through two strides; a
/// transposed A is copied a block at a time (<see cref="TransposedRange"/>). The kernel keeps 6 rows x 64 columns of C in
/// registers (24 of the 32), broadcasting one value of A against four vectors of B's row per step, and splits C's rows
/// across the cores (<see cref="OutputRowSplit"/>); the depth is blocked so a block of B stays in L2.
/// </summary>
static unsafe class BackwardProduct
{
    internal const int TileRows = 6, TileVectors = 4;

    /// <summary>C's columns per tile: <see cref="TileVectors"/> vectors of 16.</summary>
    const int GroupColumns = TileVectors * 16;
    const int DepthBlock = 256;

    /// <summary>Rows of a transposed A copied at once (<see cref="TransposedRange"/>): 32 tiles, 192 KB over a depth block.</summary>
    const int PackedRows = 32 * TileRows;

    /// <summary>C's columns per block of <see cref="Range"/>: B's share of a depth block, 512 KB, stays in L2.</summary>
    const int ColumnBlock = 512;

    /// <summary>Whether this CPU can run it for C's <paramref name="columns"/> (a multiple of 16).</summary>
    public static bool Applies(long columns) => PromptProduct.Applies(columns);

    /// <summary>C [rows, columns] = A [rows, depth] B [depth, columns] (or C += A B when <paramref name="accumulate"/>), A's
    /// element (i, p) at <c>a[i * rowStride + p * depthStride]</c>, B and C contiguous.</summary>
    public static void Multiply(float* a, long rowStride, long depthStride, float* b, float* c, int rows, int depth, int columns,
        int threads, bool accumulate = false)
    {
        if (!Applies(columns)) throw new InvalidOperationException($"BackwardProduct needs AVX-512 and columns a multiple of 16, got {columns}");
        var (ap, bp, cp) = ((nint)a, (nint)b, (nint)c);
        OutputRowSplit.Run(rows, threads, (first, end) =>
        {
            if (rowStride == 1 && depthStride > 1)
                TransposedRange((float*)ap, depthStride, (float*)bp, (float*)cp, first, end, depth, columns, accumulate);
            else Range((float*)ap, rowStride, depthStride, (float*)bp, (float*)cp, first, end, depth, columns, accumulate);
        });
    }

    /// <summary>Rows [first, end) of C with A read in place. Each tile's 6 rows of A over a depth block (6 KB) stay in L1
    /// while every column group of a <see cref="ColumnBlock"/> reuses them, and that block of B (up to 512 KB) stays in L2:
    /// column groups outermost, A came from memory once per group, as often as C has 64 columns.</summary>
    static void Range(float* a, long rowStride, long depthStride, float* b, float* c, int first, int end, int depth, int columns,
        bool accumulate)
    {
        float* panel = RowsAlias(columns) ? (float*)NativeMemory.AlignedAlloc(DepthBlock * ColumnBlock * sizeof(float), 64) : null;
        try
        {
            for (int j0 = 0; j0 < columns; j0 += ColumnBlock)
            {
                int jEnd = Math.Min(columns, j0 + ColumnBlock);
                for (int p0 = 0; p0 < depth; p0 += DepthBlock)
                {
                    int count = Math.Min(DepthBlock, depth - p0);
                    if (panel != null) PackGroups(b + (long)p0 * columns + j0, columns, count, jEnd - j0, panel);
                    for (int i = first; i < end; i += TileRows)
                    for (int j = j0; j < jEnd; j += GroupColumns)
                    {
                        float* bj = panel != null ? panel + (long)(j - j0) * count : b + (long)p0 * columns + j;
                        int ldb = panel != null ? GroupColumns : columns;
                        Tile(a + i * rowStride + p0 * depthStride, rowStride, depthStride, Math.Min(TileRows, end - i), bj, ldb,
                            Math.Min(TileVectors, (columns - j) / 16), c + (long)i * columns + j, columns, count, accumulate: accumulate || p0 > 0);
                    }
                }
            }
        }
        finally
        {
            if (panel != null) NativeMemory.AlignedFree(panel);
        }
    }

    /// <summary>Whether B's rows, <paramref name="columns"/> floats apart, fall on so few of L1's 64 sets that a tile's reads
    /// of B evict each other: rows a multiple of 1 KB apart start in at most 4 sets (4 KB apart, `down`'s 1,024 inputs, in
    /// one). Such a B is copied into contiguous panels first (<see cref="PackGroups"/>): `down`'s dX and dW products ran
    /// 6-11 % faster so, the copy included, on two Emerald Rapids cores; at 1.5 KB apart (384 inputs) the copy cost about
    /// as much as it saved.</summary>
    static bool RowsAlias(int columns) => columns % 256 == 0;

    /// <summary>B's block of <paramref name="depth"/> rows x <paramref name="width"/> columns (rows <paramref name="ldb"/>
    /// floats apart) into one panel [depth][64] per group of 64 columns, group g from <c>g * 64 * depth</c> floats (the last
    /// group's missing columns are never read).</summary>
    static void PackGroups(float* b, long ldb, int depth, int width, float* panel)
    {
        for (int j = 0; j < width; j += GroupColumns)
        {
            float* group = panel + (long)j * depth;
            int vectors = Math.Min(TileVectors, (width - j) / 16);
            for (int p = 0; p < depth; p++)
            for (int v = 0; v < vectors; v++)
                Vector512.Load(b + p * ldb + j + v * 16).Store(group + p * GroupColumns + v * 16);
        }
    }

    /// <summary>Rows [first, end) of C when A is stored transposed (its rows are columns of a matrix whose rows lie
    /// <paramref name="depthStride"/> floats apart: a weight's gradient <c>dY^T X</c>). Read in place, each step of a tile
    /// would touch a new cache line, and when A is large (the LM head's 50k outputs) every block of C's columns would stream
    /// all of it from memory again: measured 90-100 GFLOP/s there. So a block of <see cref="PackedRows"/> rows of A over a block
    /// of the depth is first copied, by tile ([tile][depth][6]), and every column block of C reuses it from the cache: 185-200
    /// GFLOP/s on two Zen 4 cores, for the head's and the projections' weight gradients alike.</summary>
    static void TransposedRange(float* a, long depthStride, float* b, float* c, int first, int end, int depth, int columns,
        bool accumulate)
    {
        // Each tile's copy [depth][6] is followed by 2 spare floats: a step copies 8 floats where 6 are the tile's.
        int tileFloats = DepthBlock * TileRows + 2;
        var packed = (float*)NativeMemory.AlignedAlloc((nuint)(PackedRows / TileRows * tileFloats * sizeof(float)), 64);
        float* panel = RowsAlias(columns) ? (float*)NativeMemory.AlignedAlloc(DepthBlock * GroupColumns * sizeof(float), 64) : null;
        try
        {
            for (int i0 = first; i0 < end; i0 += PackedRows)
            {
                int rows = Math.Min(PackedRows, end - i0), tiles = (rows + TileRows - 1) / TileRows;
                for (int p0 = 0; p0 < depth; p0 += DepthBlock)
                {
                    int count = Math.Min(DepthBlock, depth - p0);
                    for (int p = 0; p < count; p++)
                    {
                        float* source = a + i0 + (p0 + p) * depthStride;
                        if (p + 8 < count) // each step starts a new page, which the hardware does not fetch ahead
                            for (int r = 0; r < rows; r += 16) Sse.Prefetch0(source + 8 * depthStride + r);
                        int t = 0;
                        for (; t < tiles - 1 && t * TileRows + 8 <= rows; t++)
                            Vector256.Load(source + t * TileRows).Store(packed + t * tileFloats + p * TileRows);
                        for (int r = t * TileRows; r < rows; r++) // the last rows one by one: no read past the block's rows
                            packed[r / TileRows * tileFloats + p * TileRows + r % TileRows] = source[r];
                    }
                    for (int j = 0; j < columns; j += GroupColumns)
                    {
                        float* bj = b + (long)p0 * columns + j;
                        int ldb = columns;
                        if (panel != null)
                        {
                            PackGroups(bj, columns, count, Math.Min(GroupColumns, columns - j), panel);
                            bj = panel;
                            ldb = GroupColumns;
                        }
                        for (int t = 0; t < tiles; t++)
                            Tile(packed + t * tileFloats, 1, TileRows, Math.Min(TileRows, rows - t * TileRows), bj, ldb,
                                Math.Min(TileVectors, (columns - j) / 16), c + (long)(i0 + t * TileRows) * columns + j, columns, count,
                                accumulate: accumulate || p0 > 0);
                    }
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(packed);
            if (panel != null) NativeMemory.AlignedFree(panel);
        }
    }

    /// <summary>Up to 6 rows x 4 vectors of C over one block of the depth, written (or added, after the first block). A
    /// short tile repeats its last row or vector and stores only the real ones.</summary>
    // Optimised at once, and with nothing called after the loop: a call there makes the JIT spill the sums every iteration.
    // One statement per sum: assigned as tuples, the sums went through extra register copies each step.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Tile(float* a, long rowStride, long depthStride, int rowCount, float* b, int ldb, int vectors, float* c, int ldc,
        int depth, bool accumulate)
    {
        float* a0 = a, a1 = a + Math.Min(1, rowCount - 1) * rowStride, a2 = a + Math.Min(2, rowCount - 1) * rowStride;
        float* a3 = a + Math.Min(3, rowCount - 1) * rowStride, a4 = a + Math.Min(4, rowCount - 1) * rowStride;
        float* a5 = a + Math.Min(5, rowCount - 1) * rowStride;
        int o1 = Math.Min(1, vectors - 1) * 16, o2 = Math.Min(2, vectors - 1) * 16, o3 = Math.Min(3, vectors - 1) * 16;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c13 = default, c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default;
        Vector512<float> c32 = default, c33 = default, c40 = default, c41 = default, c42 = default, c43 = default, c50 = default;
        Vector512<float> c51 = default, c52 = default, c53 = default;
        long at = 0;
        for (int p = 0; p < depth; p++, at += depthStride)
        {
            var row = b + (long)p * ldb;
            var (b0, b1, b2, b3) = (Vector512.Load(row), Vector512.Load(row + o1), Vector512.Load(row + o2), Vector512.Load(row + o3));
            var s = Vector512.Create(a0[at]);
            c00 = Fma(s, b0, c00); c01 = Fma(s, b1, c01); c02 = Fma(s, b2, c02); c03 = Fma(s, b3, c03);
            s = Vector512.Create(a1[at]);
            c10 = Fma(s, b0, c10); c11 = Fma(s, b1, c11); c12 = Fma(s, b2, c12); c13 = Fma(s, b3, c13);
            s = Vector512.Create(a2[at]);
            c20 = Fma(s, b0, c20); c21 = Fma(s, b1, c21); c22 = Fma(s, b2, c22); c23 = Fma(s, b3, c23);
            s = Vector512.Create(a3[at]);
            c30 = Fma(s, b0, c30); c31 = Fma(s, b1, c31); c32 = Fma(s, b2, c32); c33 = Fma(s, b3, c33);
            s = Vector512.Create(a4[at]);
            c40 = Fma(s, b0, c40); c41 = Fma(s, b1, c41); c42 = Fma(s, b2, c42); c43 = Fma(s, b3, c43);
            s = Vector512.Create(a5[at]);
            c50 = Fma(s, b0, c50); c51 = Fma(s, b1, c51); c52 = Fma(s, b2, c52); c53 = Fma(s, b3, c53);
        }
        StoreRow(c, vectors, accumulate, c00, c01, c02, c03);
        if (rowCount > 1) StoreRow(c + ldc, vectors, accumulate, c10, c11, c12, c13);
        if (rowCount > 2) StoreRow(c + 2L * ldc, vectors, accumulate, c20, c21, c22, c23);
        if (rowCount > 3) StoreRow(c + 3L * ldc, vectors, accumulate, c30, c31, c32, c33);
        if (rowCount > 4) StoreRow(c + 4L * ldc, vectors, accumulate, c40, c41, c42, c43);
        if (rowCount > 5) StoreRow(c + 5L * ldc, vectors, accumulate, c50, c51, c52, c53);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Avx512F.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow(float* c, int vectors, bool accumulate, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2,
        Vector512<float> v3)
    {
        if (accumulate)
        {
            v0 += Vector512.Load(c);
            if (vectors > 1) v1 += Vector512.Load(c + 16);
            if (vectors > 2) v2 += Vector512.Load(c + 32);
            if (vectors > 3) v3 += Vector512.Load(c + 48);
        }
        v0.Store(c);
        if (vectors > 1) v1.Store(c + 16);
        if (vectors > 2) v2.Store(c + 32);
        if (vectors > 3) v3.Store(c + 48);
    }
}
