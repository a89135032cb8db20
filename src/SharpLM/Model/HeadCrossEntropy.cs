using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// The summed next-token cross-entropy of final hidden states under an fp32 LM head, without the logits of the whole
/// batch: the rows go through in chunks, and each chunk's logits become its loss and, when training, at once the gradients
/// of the hidden states and of the head's weight, before the next chunk reuses their memory. The products run on
/// SharpLM's kernels in fp32 (<see cref="PromptProduct"/>, <see cref="BackwardProduct"/>), or in libtorch in a lower
/// compute type (bf16 matmuls over fp32 weights, as <see cref="Projection.ComputeType"/> sets them), as the unfused head
/// would run them, or, with <see cref="Projection.Bf16OnKernels"/>, on the fp32 kernels over operands rounded to
/// bf16. At `small`'s shapes (2,048 rows, 8,192 tokens) the unfused path holds the logits, the log-softmax and
/// its gradient, 64 MB each, where this holds one 16 MB chunk; at `base`'s (50,000 tokens), 410 MB each against 100 MB.
/// Rows whose label is ignored (padding, a prompt's tokens) are dropped before any product. The loss is a scalar, so the
/// gradients are computed in the forward pass for an output gradient of 1 and scaled by the real one in backward, as
/// Liger-Kernel's fused linear cross-entropy does.
/// </summary>
sealed class HeadCrossEntropy : autograd.SingleTensorFunction<HeadCrossEntropy>
{
    public override string Name => "SharpLMHeadCrossEntropy";

    /// <summary>Whether it takes fp32 hidden states on the CPU under this fp32 weight, multiplied in <paramref name="compute"/>:
    /// fp32 on SharpLM's kernels (where they run: AVX-512, <see cref="Projection.Kernels"/>), bf16 in libtorch, or bf16 on
    /// the fp32 kernels (<paramref name="bf16OnKernels"/>).</summary>
    public static bool Applies(Tensor hidden, Tensor weight, ScalarType compute, bool bf16OnKernels = false) =>
        hidden.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32 && hidden.device_type == DeviceType.CPU
        && weight.device_type == DeviceType.CPU && weight.dim() == 2 && weight.is_contiguous()
        && (compute == ScalarType.BFloat16 && !bf16OnKernels
            || OnKernels(compute, bf16OnKernels) && Projection.Kernels && PromptProduct.Applies(weight.size(1)));

    static bool OnKernels(ScalarType compute, bool bf16OnKernels) =>
        compute == ScalarType.Float32 || compute == ScalarType.BFloat16 && bf16OnKernels;

    /// <summary>The labels and settings go in wrapped: libtorch would track a tensor argument as an input. Bf16 means
    /// the fp32 kernels multiply operands rounded to bf16; otherwise a <see cref="Compute"/> other than fp32 runs in libtorch.</summary>
    sealed record Settings(Tensor Labels, long IgnoreIndex, ScalarType Compute, bool Bf16);

    /// <summary>The fp32 sum over the rows whose label is not <paramref name="ignoreIndex"/> of <c>-log softmax(h W^T)[label]</c>,
    /// for hidden states h [..., in] and labels of the same leading shape, the products in <paramref name="compute"/>
    /// (<see cref="Applies"/> must hold).</summary>
    public static Tensor Sum(Tensor hidden, Tensor weight, ScalarType compute, Tensor labels, long ignoreIndex, bool bf16OnKernels = false)
    {
        var settings = OnKernels(compute, bf16OnKernels)
            ? new Settings(labels, ignoreIndex, ScalarType.Float32, compute == ScalarType.BFloat16)
            : new Settings(labels, ignoreIndex, compute, false);
        if (is_grad_enabled() && (hidden.requires_grad || weight.requires_grad))
        {
            var tracked = apply(hidden, weight, settings);
            foreach (var t in savedWrappers ?? []) t.Dispose(); // libtorch holds the saved gradients now
            savedWrappers = null;
            return tracked;
        }
        using var scope = NewDisposeScope();
        var (loss, _, _) = Run(hidden, weight, settings, hiddenGradient: false, weightGradient: false);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>The gradients <see cref="forward"/> saves: TorchSharp saves them only once forward has returned, so their
    /// wrappers live until <see cref="Sum"/> frees them.</summary>
    [ThreadStatic] static List<Tensor>? savedWrappers;

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (hidden, weight, settings) = ((Tensor)vars[0], (Tensor)vars[1], (Settings)vars[2]);
        using var scope = NewDisposeScope();
        var (loss, dHidden, dWeight) = Run(hidden, weight, settings, hidden.requires_grad, weight.requires_grad);
        savedWrappers = [.. new[] { dHidden, dWeight }.OfType<Tensor>().Select(t => t.DetachFromDisposeScope())];
        ctx.save_for_backward(savedWrappers);
        ctx.save_data("hidden gradient", dHidden is not null);
        ctx.save_data("weight gradient", dWeight is not null);
        return loss.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        HandedOverGradients.ReleaseEarlier();
        var saved = ctx.get_saved_variables();
        int next = 0;
        var dHidden = (bool)ctx.get_data("hidden gradient") ? saved[next++] : null;
        var dWeight = (bool)ctx.get_data("weight gradient") ? saved[next] : null;
        using (gradOutput)
        {
            // In place: these are this operation's own tensors, read by nothing else.
            foreach (var gradient in new[] { dHidden, dWeight }.OfType<Tensor>())
                HandedOverGradients.HandOver(gradient).mul_(gradOutput);
        }
        return [dHidden!, dWeight!, null!]; // TorchSharp expects one per argument, the labels included
    }

    /// <summary>Rows per chunk: about 4 M logits (16 MB, within this class of CPU's L3 cache), and at least 512: each chunk's
    /// weight gradient is a product over its rows, and a shallower one runs far below the peak (measured on `base`'s 50k
    /// vocabulary, fp32 and bf16: the head's forward and backward took 1.2x and 1.6x as long in 128-row chunks as in 512).</summary>
    static int ChunkRows(long vocabulary) => (int)Math.Clamp((4L << 20) / vocabulary, 512, 1024);

    static unsafe (Tensor Loss, Tensor? DHidden, Tensor? DWeight) Run(Tensor hidden, Tensor weight, Settings settings,
        bool hiddenGradient, bool weightGradient)
    {
        using var noGrad = no_grad();
        int columns = (int)weight.size(1), vocabulary = (int)weight.size(0);
        long ignoreIndex = settings.IgnoreIndex;
        var x = hidden.reshape(-1, columns);
        var ids = settings.Labels.reshape(-1).to(ScalarType.Int64);
        var kept = ids.ne(ignoreIndex).nonzero().squeeze(1);
        int rows = (int)kept.size(0);
        bool all = rows == x.size(0);
        var xs = (all ? x : x.index_select(0, kept)).contiguous();
        // Rounded to bf16 once for every chunk; the hidden states' gradient and the weight's are taken against these values.
        // New tensors, not the projections' kept buffers: the weight is the largest operand (154 MB at 50k tokens), and a
        // buffer that size would stay with the thread.
        if (settings.Bf16) (xs, weight) = (Bf16Operands.Rounded(xs), Bf16Operands.Rounded(weight));
        var targets = (all ? ids : ids.index_select(0, kept)).contiguous();
        if (rows > 0 && (targets.max().item<long>() >= vocabulary || targets.min().item<long>() < 0))
            throw new SharpLMException($"a label is outside the head's {vocabulary} outputs (labels {targets.min().item<long>()} to " +
                                       $"{targets.max().item<long>()}, {ignoreIndex} = ignored)");
        var dxs = hiddenGradient ? empty([rows, columns], ScalarType.Float32, device: CPU) : null;
        // The first chunk writes the weight's gradient, later ones add to it; with no rows it stays zero.
        var dWeight = !weightGradient ? null : rows > 0
            ? empty([vocabulary, columns], ScalarType.Float32, device: CPU) : zeros([vocabulary, columns], device: CPU);
        int chunk = Math.Min(ChunkRows(vocabulary), Math.Max(rows, 1)), threads = OutputRowSplit.Threads;
        var logits = empty([chunk, vocabulary], ScalarType.Float32, device: CPU);
        var lowered = settings.Compute == ScalarType.Float32 ? null : weight.to(settings.Compute); // once for every chunk
        var losses = new float[chunk];
        double loss = 0;
        fixed (float* lossPointer = losses)
        fixed (byte* xBytes = xs.bytes, wBytes = weight.bytes, logitBytes = logits.bytes, labelBytes = targets.bytes)
        fixed (byte* dxBytes = dxs is null ? default : dxs.bytes, dwBytes = dWeight is null ? default : dWeight.bytes)
        {
            float* xp = (float*)xBytes, wp = (float*)wBytes, lp = (float*)logitBytes;
            for (int first = 0; first < rows; first += chunk)
            {
                using var chunkScope = NewDisposeScope();
                int count = Math.Min(chunk, rows - first);
                var part = logits.narrow(0, 0, count);
                var input = lowered is null ? null : xs.narrow(0, first, count).to(settings.Compute);
                if (lowered is null)
                    PromptProduct.Multiply(weight, new ReadOnlySpan<float>(xp + (long)first * columns, count * columns), count,
                        new Span<float>(lp, count * vocabulary), threads);
                else part.copy_(input!.matmul(lowered.t()));
                bool gradients = dxs is not null || dWeight is not null;
                SoftmaxRows(lp, count, vocabulary, (long*)labelBytes + first, lossPointer, gradients, settings.Bf16, threads);
                for (int i = 0; i < count; i++) loss += losses[i];
                if (!gradients) continue;
                if (lowered is not null)
                {
                    // As the unfused head's backward runs: the logits' gradient in the compute type, products in libtorch.
                    var dy = part.to(settings.Compute);
                    dxs?.narrow(0, first, count).copy_(dy.matmul(lowered));
                    if (dWeight is not null && first == 0) dWeight.copy_(dy.t().matmul(input!));
                    else dWeight?.add_(dy.t().matmul(input!), HeldScalars.One);
                    continue;
                }
                if (dxs is not null)
                    BackwardProduct.Multiply(lp, vocabulary, 1, wp, (float*)dxBytes + (long)first * columns, count, vocabulary, columns, threads);
                if (dWeight is not null)
                    BackwardProduct.Multiply(lp, 1, vocabulary, xp + (long)first * columns, (float*)dwBytes, vocabulary, count, columns, threads,
                        accumulate: first > 0);
            }
        }
        Tensor? dHidden = null;
        if (dxs is not null)
            dHidden = (all ? dxs : zeros([x.size(0), columns], ScalarType.Float32, device: CPU).index_copy_(0, kept, dxs)).view(hidden.shape);
        return (tensor((float)loss, device: CPU), dHidden, dWeight);
    }

    /// <summary>Each row's loss, <c>log(sum(exp(row))) - row[label]</c>, into <paramref name="losses"/>; with
    /// <paramref name="gradients"/>, the row becomes d loss / d logits = softmax - one-hot(label). Row by row while the row
    /// is in the core's cache, where libtorch's log-softmax would make several passes over the whole chunk. With
    /// <paramref name="bf16"/> the gradient is rounded to bf16, as the backward products' operand.</summary>
    static unsafe void SoftmaxRows(float* logits, int rows, int vocabulary, long* labels, float* losses, bool gradients, bool bf16,
        int threads)
    {
        var (logitsAt, labelsAt, lossesAt) = ((nint)logits, (nint)labels, (nint)losses);
        OutputRowSplit.Run(rows, threads, (first, end) =>
        {
            for (int r = first; r < end; r++)
            {
                var row = new Span<float>((float*)logitsAt + (long)r * vocabulary, vocabulary);
                int label = (int)((long*)labelsAt)[r];
                float max = TensorPrimitives.Max(row), target = row[label];
                float sum = Exponentials.ScaledSum(row, 1, -max);
                ((float*)lossesAt)[r] = max + MathF.Log(sum) - target;
                if (!gradients) continue;
                TensorPrimitives.Divide(row, sum, row);
                row[label] -= 1;
                if (bf16) Bf16Values.RoundInFp32(row, row);
            }
        });
    }
}
