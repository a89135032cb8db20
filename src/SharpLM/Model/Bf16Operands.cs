using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// Operands of bf16 products rounded to bf16 and kept in fp32, for SharpLM's fp32 kernels to multiply as a bf16 matmul
/// would (<see cref="Projection.Bf16OnKernels"/>): <see cref="KernelLinear"/>'s products and the fused head's
/// (<see cref="HeadCrossEntropy"/>).
/// </summary>
static class Bf16Operands
{
    /// <summary>Buffers this thread rounds operands into (<see cref="Rounded(Tensor, int)"/>), kept for its next product
    /// (freed with the thread, by the tensors' finalisers).</summary>
    [ThreadStatic] static Tensor?[]? buffers;

    /// <summary><paramref name="t"/>'s values rounded to bf16 (<see cref="Bf16Values.RoundInFp32"/>), on the kernels' threads,
    /// into this thread's buffer number <paramref name="buffer"/> (0-2): a view that is valid until this thread rounds into
    /// that buffer again. A new tensor for every operand instead cost `base` 0.6-1 GB of peak memory: the pages the
    /// allocator got back stayed with the process, a copy for every product of a step.</summary>
    public static Tensor Rounded(Tensor t, int buffer)
    {
        buffers ??= new Tensor?[3];
        long count = t.numel();
        var held = buffers[buffer];
        if (held is null || held.numel() < count)
        {
            held?.Dispose();
            held = buffers[buffer] = empty(count, ScalarType.Float32, device: CPU).DetachFromDisposeScope();
        }
        using var prefix = held.narrow(0, 0, count);
        return RoundInto(t, prefix.view(t.shape));
    }

    /// <summary>Outputs whose values are bf16 values already (<see cref="MarkRounded"/>), keyed by their wrapper.</summary>
    static readonly ConditionalWeakTable<Tensor, object> roundedOutputs = [];

    [ThreadStatic] static bool producersDoNotRound;

    /// <summary>Whether the layers have the operations whose outputs only bf16 products read round them as they write them
    /// (<see cref="Projection.RoundsInputToBf16"/>); false on this thread rounds every input in the products, for tests
    /// that compare the two.</summary>
    internal static bool ProducersRound
    {
        get => !producersDoNotRound;
        set => producersDoNotRound = !value;
    }

    /// <summary>Marks <paramref name="output"/>, an operation's output whose values it rounded to bf16 as it wrote them, so
    /// that <see cref="KernelLinear"/> multiplies it as it is: the layers hand the same tensor object on to the projections
    /// (a normed layer input to q, k and v, SwiGLU's output to down), which saves rounding it for each of them, forward and
    /// backward. Returns <paramref name="output"/>.</summary>
    public static Tensor MarkRounded(Tensor output)
    {
        roundedOutputs.AddOrUpdate(output, roundedOutputs); // the value is not read
        return output;
    }

    /// <summary>Whether <paramref name="t"/> is an output marked by <see cref="MarkRounded"/>.</summary>
    public static bool IsRounded(Tensor t) => roundedOutputs.TryGetValue(t, out _);

    /// <summary>A new fp32 tensor of <paramref name="t"/>'s values rounded to bf16 (<see cref="Bf16Values.RoundInFp32"/>), on the
    /// kernels' threads.</summary>
    public static Tensor Rounded(Tensor t) => RoundInto(t, empty(t.shape, ScalarType.Float32, device: CPU));

    static unsafe Tensor RoundInto(Tensor t, Tensor rounded)
    {
        var source = t.contiguous();
        long count = source.numel();
        fixed (byte* from = source.bytes, to = rounded.bytes)
        {
            var (fromAt, toAt) = ((nint)from, (nint)to);
            OutputRowSplit.Run((int)((count + 4095) / 4096), OutputRowSplit.Threads, (first, end) =>
            {
                long start = first * 4096L, length = Math.Min(end * 4096L, count) - start;
                Bf16Values.RoundInFp32(new ReadOnlySpan<float>((float*)fromAt + start, (int)length),
                    new Span<float>((float*)toAt + start, (int)length));
            });
        }
        if (!ReferenceEquals(source, t)) source.Dispose();
        return rounded;
    }
}
