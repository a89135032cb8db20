using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Data;

/// <summary>
/// One (micro-)batch for next-token training: inputs and the target at every position. Targets equal to
/// <see cref="IgnoreIndex"/> (padding, prompts) add nothing to the loss.
/// </summary>
public sealed class TrainingBatch : IDisposable
{
    /// <summary>Cross-entropy ignores these targets (PyTorch's default ignore_index).</summary>
    public const long IgnoreIndex = -100;

    /// <summary>[batch, seq] int64.</summary>
    public required Tensor InputIds { get; init; }

    /// <summary>[batch, seq] int64: the token to predict after each position, or <see cref="IgnoreIndex"/>.</summary>
    public required Tensor Labels { get; init; }

    /// <summary>[batch, seq], 1 = real token, 0 = padding; null when there is no padding.</summary>
    public Tensor? AttentionMask { get; init; }

    /// <summary>[batch, seq] positions, for packed rows whose examples restart at 0.</summary>
    public Tensor? PositionIds { get; init; }

    /// <summary>[batch, seq] example ids, for packed rows whose examples must not attend to each other.</summary>
    public Tensor? SegmentIds { get; init; }

    /// <summary>[batch] float64: each row's summed target log-probability under a reference model, computed once before
    /// training (preference pairs, see <see cref="PreferenceDataset"/>); null when it is computed as training goes.</summary>
    public Tensor? ReferenceLogps { get; init; }

    /// <summary>Number of targets that count (labels != ignore).</summary>
    public long TargetTokens => Labels.ne(IgnoreIndex).sum().item<long>();

    public long Tokens => InputIds.numel();

    public ForwardOptions ForwardOptions => new() { AttentionMask = AttentionMask, PositionIds = PositionIds, SegmentIds = SegmentIds };

    /// <summary>The batch on <paramref name="device"/> (the model's): this one when it is there already, else a copy,
    /// and this one is disposed. Collation builds batches on the CPU; the trainer and evaluators move them.</summary>
    public TrainingBatch To(Device device)
    {
        if (Runtime.ComputeDevice.Same(InputIds.device, device)) return this;
        var moved = new TrainingBatch
        {
            InputIds = InputIds.to(device), Labels = Labels.to(device), AttentionMask = AttentionMask?.to(device),
            PositionIds = PositionIds?.to(device), SegmentIds = SegmentIds?.to(device), ReferenceLogps = ReferenceLogps?.to(device),
        };
        Dispose();
        return moved;
    }

    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        AttentionMask?.Dispose();
        PositionIds?.Dispose();
        SegmentIds?.Dispose();
        ReferenceLogps?.Dispose();
    }
}
