using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// Boolean attention masks for scaled-dot-product attention, shaped [batch, 1, queries, keys], true = may attend.
/// Every query row keeps its own position, so no row is ever fully masked (which would turn softmax into NaN),
/// even for padding queries whose outputs are ignored anyway.
/// </summary>
public static class AttentionMasks
{
    /// <summary>The mask a forward pass of <paramref name="queries"/> new positions after <paramref name="past"/> cached
    /// ones uses in every layer. Null when scaled-dot-product attention needs none of its own: its causal flag covers a
    /// whole sequence from position 0, and one query attends to every cached key.</summary>
    /// <param name="keyPadding">[batch, past + queries], 1 = real token, 0 = padding; null = none</param>
    /// <param name="segmentIds">[batch, queries] example id of each position of packed rows; null = not packed</param>
    /// <param name="device">where the mask is made: the inputs' device (null = the CPU)</param>
    public static Tensor? For(long batch, long queries, long past, Tensor? keyPadding = null, Tensor? segmentIds = null, Device? device = null)
    {
        if (segmentIds is not null)
        {
            if (past > 0) throw new SharpLMException("packed (segmented) inputs cannot be combined with a KV cache");
            return BlockCausal(segmentIds);
        }
        if (keyPadding is not null) return Causal(queries, past, keyPadding);
        // Chunked prefill: SDPA's own causal flag is top-left aligned, and these queries come after the cached keys.
        if (past > 0 && queries > 1) return Causal(queries, past, batch: batch, device: device);
        return null;
    }

    /// <summary>Causal mask for <paramref name="queries"/> new positions after <paramref name="past"/> cached ones,
    /// bottom-right aligned (query i sees keys 0..past+i), optionally hiding padded keys.</summary>
    /// <param name="keyPadding">[batch, past + queries], 1/true = real token, 0/false = padding; null = none</param>
    /// <param name="device">where the mask is made when there is no <paramref name="keyPadding"/> (else on its device)</param>
    public static Tensor Causal(long queries, long past, Tensor? keyPadding = null, long batch = 1, Device? device = null)
    {
        using var scope = NewDisposeScope();
        long keys = past + queries;
        device = keyPadding?.device ?? device;
        var queryPos = arange(past, keys, dtype: int64, device: device).view(-1, 1);
        var keyPos = arange(keys, dtype: int64, device: device).view(1, -1);
        var mask = keyPos.le(queryPos).view(1, 1, queries, keys);
        if (keyPadding is not null)
        {
            var visible = keyPadding.to(@bool).view(keyPadding.size(0), 1, 1, keys);
            var self = keyPos.eq(queryPos).view(1, 1, queries, keys);
            mask = mask.logical_and(visible).logical_or(self);
        }
        else if (batch > 1)
        {
            mask = mask.expand(batch, 1, queries, keys);
        }
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>Block-causal mask for packed rows: position i sees j when j &lt;= i and both belong to the same
    /// example (<paramref name="segmentIds"/> [batch, seq], equal ids = same example).</summary>
    public static Tensor BlockCausal(Tensor segmentIds)
    {
        using var scope = NewDisposeScope();
        long t = segmentIds.size(1);
        var pos = arange(t, dtype: int64, device: segmentIds.device);
        var causal = pos.view(1, -1).le(pos.view(-1, 1)).view(1, 1, t, t);
        var sameSegment = segmentIds.unsqueeze(2).eq(segmentIds.unsqueeze(1)).unsqueeze(1);
        return causal.logical_and(sameSegment).MoveToOuterDisposeScope();
    }
}
