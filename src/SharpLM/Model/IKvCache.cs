using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// What a forward pass needs of a key/value cache: attention layers append this step's keys and values and attend to
/// everything returned; the model advances it once all layers have appended. <see cref="KvCache"/> holds sequences of
/// one shared length; <see cref="SlotKvCache"/> holds rows of different lengths for continuous batching.
/// </summary>
public interface IKvCache
{
    /// <summary>Positions stored before this step (the longest row's, where rows differ).</summary>
    long Length { get; }

    /// <summary>Stores this step's keys/values [batch, kvHeads, seq, headDim] for <paramref name="layer"/> and returns
    /// the keys/values the step attends to.</summary>
    (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v);

    /// <summary>Called once per forward pass after every layer appended <paramref name="positions"/> positions.</summary>
    void Advance(long positions);
}
