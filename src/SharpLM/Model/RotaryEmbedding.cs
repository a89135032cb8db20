using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// Rotary position embedding in the rotate-half layout (Hugging Face Llama): the first and second halves of each
/// head vector form the rotated pairs. Tables are precomputed in fp32 for every position up to the model's maximum,
/// from the frequencies of <see cref="RopeFrequencies"/> (rope_theta and any supported rope_scaling).
/// </summary>
public sealed class RotaryEmbedding : nn.Module
{
    Tensor cosTable, sinTable; // [maxPositions, headDim], fp32 whatever the weights' type

    public RotaryEmbedding(int headDim, int maxPositions, double theta) : this(headDim, maxPositions, new RopeFrequencies { Theta = theta })
    {
    }

    public RotaryEmbedding(int headDim, int maxPositions, RopeFrequencies frequencies) : base("RotaryEmbedding")
    {
        using var scope = NewDisposeScope();
        // Same arithmetic as transformers: fp32 inv_freq (scaled by the config's rule), then position * inv_freq.
        var freqs = outer(arange(maxPositions, dtype: float32), frequencies.InverseFrequencies(headDim));
        var emb = cat([freqs, freqs], -1);
        cosTable = emb.cos().MoveToOuterDisposeScope();
        sinTable = emb.sin().MoveToOuterDisposeScope();
        // Derived from the config, so not saved with the weights.
        register_buffer(nameof(cosTable), cosTable, persistent: false);
        register_buffer(nameof(sinTable), sinTable, persistent: false);
        RegisterComponents();
    }

    public long MaxPositions => cosTable.size(0);

    /// <summary>Moves the tables with the module (<c>model.to(device)</c>): TorchSharp 0.107's Module.to passes over
    /// non-persistent buffers (its named_buffers skips them), so they would stay on the CPU beside a GPU model. They keep
    /// their fp32 under a dtype move, as transformers keeps inv_freq; <see cref="Apply"/> casts them to the input's type.</summary>
    protected override void _toEpilog(ScalarType? dtype, Device? device, bool non_blocking)
    {
        base._toEpilog(dtype, device, non_blocking);
        if (device is null || Runtime.ComputeDevice.Same(cosTable.device, device)) return;
        var (cos, sin) = (cosTable.to(device).DetachFromDisposeScope(), sinTable.to(device).DetachFromDisposeScope());
        cosTable.Dispose();
        sinTable.Dispose();
        (cosTable, sinTable) = (cos, sin);
        ConditionallyRegisterBuffer(nameof(cosTable), cosTable, persistent: false);
        ConditionallyRegisterBuffer(nameof(sinTable), sinTable, persistent: false);
    }

    /// <summary>cos and sin for the given positions [batch, seq], shaped [batch, 1, seq, headDim] to broadcast over heads.</summary>
    public (Tensor Cos, Tensor Sin) ForPositions(Tensor positionIds) =>
        (cosTable.index_select(0, positionIds.flatten()).view(positionIds.size(0), 1, positionIds.size(1), -1),
         sinTable.index_select(0, positionIds.flatten()).view(positionIds.size(0), 1, positionIds.size(1), -1));

    /// <summary>cos and sin for the contiguous positions start..start+length-1, shaped [1, 1, length, headDim].</summary>
    public (Tensor Cos, Tensor Sin) ForRange(long start, long length) =>
        (cosTable.narrow(0, start, length).view(1, 1, length, -1), sinTable.narrow(0, start, length).view(1, 1, length, -1));

    /// <summary>Rotates x [batch, heads, seq, headDim] by the angles whose cos/sin are given: in fp32 training as one autograd
    /// operation (<see cref="FusedRope"/>), in libtorch's steps otherwise.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (FusedRope.Applies(x, cos, sin)) return FusedRope.Apply(x, cos, sin);
        using var scope = NewDisposeScope();
        var half = x.size(-1) / 2;
        var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
        if (cos.dtype != x.dtype) (cos, sin) = (cos.to(x.dtype), sin.to(x.dtype));
        return x.mul(cos).addcmul_(rotated, sin, HeldScalars.One).MoveToOuterDisposeScope();
    }
}
