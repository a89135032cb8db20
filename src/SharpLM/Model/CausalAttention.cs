using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// Causal self-attention <c>softmax(q k^T / sqrt(d)) v</c> of a training pass as an autograd operation on AVX-512, each
/// key/value head shared by its group of query heads (grouped-query attention) without a copy per query head. At `small`'s
/// shapes (6 query heads, 2 key/value heads, head dim 64, 8 x 256 tokens) libtorch's scaled-dot-product attention with
/// k and v repeated per query head ran forward and backward at about 45 GFLOP/s (31 ms a layer on two Zen 4 cores).
/// Here, as in flash attention, the forward pass keeps each query row's log-sum-exp instead of the probabilities and the
/// backward pass recomputes them, a block of query rows at a time; every product runs on <see cref="BackwardProduct"/>'s
/// register tile over the causal part only (rounded to tiles). Work is split over (batch entry, key/value head) pairs, each
/// one thread's in a fixed order, so results do not depend on the thread count. Measured at `small`'s shapes on one core
/// of a shared Zen 4 machine: 22-25 ms forward and backward (about 60 GFLOP/s), libtorch's 42 ms.
/// </summary>
sealed class CausalAttention : autograd.SingleTensorFunction<CausalAttention>
{
    public override string Name => "SharpLMCausalAttention";

    /// <summary>Query rows whose scores are held at once (against every key up to the block's last row).</summary>
    const int QueryBlock = 64;

    /// <summary>Keys per tile of scores: the register tile's width.</summary>
    const int KeyTile = BackwardProduct.TileVectors * 16;

    [ThreadStatic] static bool off;

    /// <summary>False leaves attention to libtorch on this thread: for tests that compare the two.</summary>
    internal static bool Enabled
    {
        get => !off;
        set => off = !value;
    }

    /// <summary>Whether it takes this training pass's q [batch, heads, t, d] and k, v [batch, kvHeads, t, d]: fp32 on the
    /// CPU with AVX-512, d a multiple of 16, and gradients wanted for one of them.</summary>
    public static bool Applies(Tensor q, Tensor k, Tensor v) =>
        Enabled && Avx512F.IsSupported && is_grad_enabled() && (q.requires_grad || k.requires_grad || v.requires_grad)
        && new[] { q, k, v }.All(x => x.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU && x.dim() == 4)
        && q.size(3) % 16 == 0 && k.size(1) > 0 && q.size(1) % k.size(1) == 0
        && k.shape.SequenceEqual(v.shape) && q.size(0) == k.size(0) && q.size(2) == k.size(2) && q.size(3) == k.size(3);

    /// <summary>Causal attention of q [batch, heads, t, d] over k, v [batch, kvHeads, t, d] (<see cref="Applies"/> must
    /// hold), scaled by 1/sqrt(d) as libtorch's is, as [batch, t, heads * d]: the heads side by side, as the output
    /// projection reads them.</summary>
    public static Tensor Apply(Tensor q, Tensor k, Tensor v) => Apply(q, k, v, OutputRowSplit.Threads);

    /// <summary><see cref="Apply(Tensor, Tensor, Tensor)"/> on up to <paramref name="threads"/> threads.</summary>
    internal static Tensor Apply(Tensor q, Tensor k, Tensor v, int threads) => OutputCache.Free(apply(q, k, v, threads));

    public override unsafe Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (q, k, v, threads) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (int)vars[3]);
        OutputCache.Skip(ctx);
        long b = q.size(0), heads = q.size(1), t = q.size(2), d = q.size(3);
        var y = empty([b, t, heads * d], ScalarType.Float32, device: CPU);
        var logSumExp = empty([b, heads, t], ScalarType.Float32, device: CPU);
        var pass = new Pass(q, k, v, y, threads) { LogSumExp = Pointer(logSumExp) };
        pass.Run(pass.Forward);
        // The output is saved detached: saved as itself, it would hold its own gradient function.
        ctx.save_for_backward([q, k, v, y.detach(), logSumExp]);
        ctx.save_data("threads", threads);
        ctx.save_data("q needs a gradient", q.requires_grad);
        ctx.save_data("k needs a gradient", k.requires_grad);
        ctx.save_data("v needs a gradient", v.requires_grad);
        return y;
    }

    public override unsafe List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        HandedOverGradients.ReleaseEarlier();
        if (gradOutput.IsInvalid) return [null!, null!, null!, null!]; // the output was not used: no gradient flows back
        var saved = ctx.get_saved_variables();
        using var owned = new DisposeAll([.. saved, gradOutput]);
        using var scope = NewDisposeScope();
        var (q, k, v, y, logSumExp) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
        long b = q.size(0), heads = q.size(1), t = q.size(2), d = q.size(3), kvHeads = k.size(1);
        // Gradients laid out as [batch, t, heads, d], as the projections' outputs were before their transposes: the
        // gradients flow back through those transposes without a copy.
        Tensor? Gradient(string name, long count) => !(bool)ctx.get_data(name) ? null
            : HandedOverGradients.HandOver(zeros([b, t, count, d], ScalarType.Float32, device: CPU).transpose(1, 2));
        var (dq, dk, dv) = (Gradient("q needs a gradient", heads), Gradient("k needs a gradient", kvHeads),
            Gradient("v needs a gradient", kvHeads));
        var pass = new Pass(q, k, v, y, (int)ctx.get_data("threads"))
        {
            LogSumExp = Pointer(logSumExp), OutputGradient = Rows(gradOutput.to(ScalarType.Float32).reshape(b, t, heads, d).transpose(1, 2)),
        };
        if (dq is not null) pass.QueryGradient = Rows(dq);
        if (dk is not null) pass.KeyGradient = Rows(dk);
        if (dv is not null) pass.ValueGradient = Rows(dv);
        pass.Run(pass.Backward);
        return [dq!, dk!, dv!, null!]; // TorchSharp expects one per argument, the thread count included
    }

    /// <summary>The first float of a tensor in libtorch's CPU memory, which does not move.</summary>
    static unsafe float* Pointer(Tensor x) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(x.bytes));

    /// <summary>Where the rows of x [batch, heads, t, d] are: read in place when x is contiguous either as it is or as
    /// [batch, t, heads, d] (the projections' outputs, transposed), else from a contiguous copy.</summary>
    static unsafe HeadRows Rows(Tensor x)
    {
        var swapped = x.transpose(1, 2);
        if (!x.is_contiguous() && !swapped.is_contiguous()) x = x.contiguous();
        var backing = x.is_contiguous() ? x : swapped;
        return new HeadRows(Pointer(backing), x.stride(0), x.stride(1), (int)x.stride(2));
    }

    /// <summary>Head h of batch entry b starts at <c>start + b * batch + h * head</c>, its rows <see cref="Row"/> floats
    /// apart, each row's d floats contiguous.</summary>
    readonly unsafe struct HeadRows(float* start, long batch, long head, int row)
    {
        public float* At(long b, long h) => start + b * batch + h * head;
        public int Row => row;
    }

    /// <summary>One forward or backward pass over every (batch entry, key/value head) pair.</summary>
    sealed unsafe class Pass
    {
        readonly HeadRows q, k, v, y;
        readonly int batch, heads, kvHeads, t, d, threads, scratchRow;
        readonly float scale;
        public float* LogSumExp;
        public HeadRows OutputGradient;
        public HeadRows? QueryGradient, KeyGradient, ValueGradient;

        public Pass(Tensor q, Tensor k, Tensor v, Tensor y, int threads)
        {
            (batch, heads, t, d, kvHeads) = ((int)q.size(0), (int)q.size(1), (int)q.size(2), (int)q.size(3), (int)k.size(1));
            (this.q, this.k, this.v, this.threads) = (Rows(q), Rows(k), Rows(v), threads);
            this.y = Rows(y.view(batch, t, heads, d).transpose(1, 2));
            // Whole tiles of keys, and 16 floats more: rows a power of two of bytes apart would share the cache's sets.
            scratchRow = (t + KeyTile - 1) / KeyTile * KeyTile + 16;
            scale = (float)(1 / Math.Sqrt(d));
        }

        /// <summary>Runs <paramref name="pairs"/>(first, end) over ranges of the pairs, one range per thread.</summary>
        public void Run(Action<int, int> pairs) => OutputRowSplit.Split(batch * kvHeads, Math.Clamp(threads, 1, batch * kvHeads), pairs);

        public void Forward(int first, int end)
        {
            using var keysT = new Scratch(d * scratchRow);
            using var probabilities = new Scratch(QueryBlock * scratchRow);
            for (int pair = first; pair < end; pair++)
            {
                int b = pair / kvHeads, g = pair % kvHeads, group = heads / kvHeads;
                Transpose(k.At(b, g), k.Row, keysT.At);
                for (int h = g * group; h < (g + 1) * group; h++)
                {
                    for (int i0 = 0; i0 < t; i0 += QueryBlock)
                    {
                        int rows = Math.Min(QueryBlock, t - i0);
                        float* queries = q.At(b, h) + (long)i0 * q.Row, p = probabilities.At;
                        Scores(queries, q.Row, i0, rows, keysT.At, p);
                        for (int r = 0; r < rows; r++)
                        {
                            int i = i0 + r;
                            var row = new Span<float>(p + (long)r * scratchRow, i + 1);
                            float max = TensorPrimitives.Max(row);
                            float sum = Exponentials.ScaledSum(row, scale, -scale * max);
                            TensorPrimitives.Multiply(row, 1 / sum, row);
                            new Span<float>(p + (long)r * scratchRow + i + 1, i0 + rows - i - 1).Clear();
                            LogSumExp[((long)b * heads + h) * t + i] = scale * max + MathF.Log(sum);
                        }
                        Times(p, i0, rows, v.At(b, g), v.Row, y.At(b, h) + (long)i0 * y.Row, y.Row);
                    }
                }
            }
        }

        public void Backward(int first, int end)
        {
            using var keysT = new Scratch(d * scratchRow);
            using var valuesT = new Scratch(d * scratchRow);
            using var probabilities = new Scratch(QueryBlock * scratchRow);
            using var scoreGradients = new Scratch(QueryBlock * scratchRow);
            bool queryOrKey = QueryGradient is not null || KeyGradient is not null;
            for (int pair = first; pair < end; pair++)
            {
                int b = pair / kvHeads, g = pair % kvHeads, group = heads / kvHeads;
                Transpose(k.At(b, g), k.Row, keysT.At);
                Transpose(v.At(b, g), v.Row, valuesT.At);
                for (int h = g * group; h < (g + 1) * group; h++)
                {
                    for (int i0 = 0; i0 < t; i0 += QueryBlock)
                    {
                        int rows = Math.Min(QueryBlock, t - i0);
                        float* queries = q.At(b, h) + (long)i0 * q.Row, p = probabilities.At, ds = scoreGradients.At;
                        float* dy = OutputGradient.At(b, h) + (long)i0 * OutputGradient.Row;
                        Scores(queries, q.Row, i0, rows, keysT.At, p);
                        for (int r = 0; r < rows; r++)
                        {
                            int i = i0 + r;
                            var row = new Span<float>(p + (long)r * scratchRow, i + 1);
                            Exponentials.ScaledSum(row, scale, -LogSumExp[((long)b * heads + h) * t + i]);
                            new Span<float>(p + (long)r * scratchRow + i + 1, i0 + rows - i - 1).Clear();
                        }
                        if (ValueGradient is { } dv) TransposedTimesAdd(p, i0, rows, dy, OutputGradient.Row, dv.At(b, g), dv.Row);
                        if (!queryOrKey) continue;
                        // dS = P (dP - rowsum(dY Y)) / sqrt(d), dP = dY V^T.
                        Scores(dy, OutputGradient.Row, i0, rows, valuesT.At, ds);
                        for (int r = 0; r < rows; r++)
                        {
                            int i = i0 + r;
                            float dot = TensorPrimitives.Dot(new ReadOnlySpan<float>(dy + (long)r * OutputGradient.Row, d),
                                new ReadOnlySpan<float>(y.At(b, h) + (long)i * y.Row, d));
                            ScoreGradients(ds + (long)r * scratchRow, p + (long)r * scratchRow, i + 1, dot, scale);
                            new Span<float>(ds + (long)r * scratchRow + i + 1, i0 + rows - i - 1).Clear();
                        }
                        if (KeyGradient is { } dk) TransposedTimesAdd(ds, i0, rows, queries, q.Row, dk.At(b, g), dk.Row);
                        if (QueryGradient is { } dq)
                            Times(ds, i0, rows, k.At(b, g), k.Row, dq.At(b, h) + (long)i0 * dq.Row, dq.Row);
                    }
                }
            }
        }

        /// <summary>ds = p (dp - dot) scale over <paramref name="count"/> floats, ds holding dp: a row of the scores'
        /// gradients from its probabilities and their gradients.</summary>
        static void ScoreGradients(float* ds, float* p, int count, float dot, float scale)
        {
            int j = 0;
            for (var (vdot, vscale) = (Vector512.Create(dot), Vector512.Create(scale)); j + 16 <= count; j += 16)
                ((Vector512.Load(ds + j) - vdot) * Vector512.Load(p + j) * vscale).Store(ds + j);
            for (; j < count; j++) ds[j] = (ds[j] - dot) * p[j] * scale;
        }

        /// <summary>x's t rows of d into columns of xT [d, scratchRow], the columns past t zero.</summary>
        void Transpose(float* x, int row, float* xT)
        {
            for (int j = 0; j < t; j++)
            for (int c = 0; c < d; c++)
                xT[(long)c * scratchRow + j] = x[(long)j * row + c];
            for (int c = 0; c < d; c++) new Span<float>(xT + (long)c * scratchRow + t, scratchRow - t).Clear();
        }

        /// <summary>s[r, j] = a[r] . keys[j] for query rows i0 .. i0+rows-1 (a's rows <paramref name="row"/> apart) and at
        /// least the keys j &lt;= i0 + r, from the keys transposed (<paramref name="keysT"/> [d, scratchRow]), into s [rows, scratchRow].</summary>
        void Scores(float* a, int row, int i0, int rows, float* keysT, float* s)
        {
            for (int n0 = 0; n0 < i0 + rows; n0 += KeyTile)
            for (int r0 = 0; r0 < rows; r0 += BackwardProduct.TileRows)
            {
                int count = Math.Min(BackwardProduct.TileRows, rows - r0);
                if (n0 >= i0 + r0 + count) continue; // keys after every row of the tile
                BackwardProduct.Tile(a + (long)r0 * row, row, 1, count, keysT + n0, scratchRow, BackwardProduct.TileVectors,
                    s + (long)r0 * scratchRow + n0, scratchRow, d, accumulate: false);
            }
        }

        /// <summary>c[r] = sum over j &lt;= i0 + r of p[r, j] x[j] for rows r of p [rows, scratchRow] (zero past each row's
        /// last key), x's and c's rows of d floats <paramref name="xRow"/> and <paramref name="cRow"/> apart.</summary>
        void Times(float* p, int i0, int rows, float* x, int xRow, float* c, int cRow)
        {
            for (int r0 = 0; r0 < rows; r0 += BackwardProduct.TileRows)
            {
                int count = Math.Min(BackwardProduct.TileRows, rows - r0);
                for (int n0 = 0; n0 < d; n0 += KeyTile)
                    BackwardProduct.Tile(p + (long)r0 * scratchRow, scratchRow, 1, count, x + n0, xRow,
                        Math.Min(BackwardProduct.TileVectors, (d - n0) / 16), c + (long)r0 * cRow + n0, cRow, i0 + r0 + count, accumulate: false);
            }
        }

        /// <summary>c[j] += sum over rows r with i0 + r &gt;= j of p[r, j] x[r], for keys j &lt; i0 + rows: the
        /// transposed product of a block's probabilities or score gradients with its rows of x.</summary>
        void TransposedTimesAdd(float* p, int i0, int rows, float* x, int xRow, float* c, int cRow)
        {
            for (int j0 = 0; j0 < i0 + rows; j0 += BackwardProduct.TileRows)
            {
                int count = Math.Min(BackwardProduct.TileRows, i0 + rows - j0), r0 = Math.Max(0, j0 - i0);
                for (int n0 = 0; n0 < d; n0 += KeyTile)
                    BackwardProduct.Tile(p + (long)r0 * scratchRow + j0, 1, scratchRow, count, x + (long)r0 * xRow + n0, xRow,
                        Math.Min(BackwardProduct.TileVectors, (d - n0) / 16), c + (long)j0 * cRow + n0, cRow, rows - r0, accumulate: true);
            }
        }
    }

    /// <summary>A thread's working memory, 64-byte aligned, freed on dispose.</summary>
    sealed unsafe class Scratch(int floats) : IDisposable
    {
        public float* At { get; } = (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);

        public void Dispose() => NativeMemory.AlignedFree(At);
    }
}
