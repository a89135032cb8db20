using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>Optional inputs of a forward pass beyond the token ids.</summary>
public sealed class ForwardOptions
{
    /// <summary>[batch, seq] position of each token; default: cache length + 0..seq-1.</summary>
    public Tensor? PositionIds { get; init; }

    /// <summary>[batch, cached + seq], 1 = real token, 0 = padding (keys that nobody may attend to).</summary>
    public Tensor? AttentionMask { get; init; }

    /// <summary>[batch, seq] example id of each position in a packed row: attention stays inside an example.</summary>
    public Tensor? SegmentIds { get; init; }

    /// <summary>Keys/values of earlier positions; the forward appends the new ones.</summary>
    public KvCache? Cache { get; init; }
}
