using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// Keys and values of earlier positions, one preallocated buffer per layer, so each generated token costs one
/// position of attention work instead of recomputing the whole prefix.
/// </summary>
public sealed class KvCache : IKvCache, IDisposable
{
    readonly Tensor[] keys, values; // [batch, kvHeads, capacity, headDim] per layer

    /// <param name="device">where the buffers are: the model's device (<see cref="LlamaForCausalLM.Device"/>; null = the CPU)</param>
    public KvCache(LlamaConfig config, long batch, long capacity, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        if (capacity > config.MaxPositionEmbeddings)
            throw new SharpLMException($"KV cache of {capacity} positions exceeds max_position_embeddings ({config.MaxPositionEmbeddings})");
        Capacity = capacity;
        keys = new Tensor[config.NumHiddenLayers];
        values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = zeros([batch, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device: device).DetachFromDisposeScope();
            values[i] = zeros([batch, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device: device).DetachFromDisposeScope();
        }
    }

    /// <summary>Positions already stored.</summary>
    public long Length { get; private set; }

    /// <summary>Keys and values [batch, kvHeads, capacity, headDim] of every layer, for copying a prefilled
    /// sequence into a <see cref="SlotKvCache"/> row.</summary>
    internal (Tensor Keys, Tensor Values) Layer(int layer) => (keys[layer], values[layer]);

    public long Capacity { get; }

    /// <summary>Stores this step's keys/values [batch, kvHeads, seq, headDim] for a layer after the current length
    /// and returns all keys/values so far. Call <see cref="Advance"/> once every layer has appended.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        var t = k.size(2);
        if (Length + t > Capacity)
            throw new SharpLMException($"KV cache full: {Length} + {t} positions exceed its capacity of {Capacity}");
        keys[layer].narrow(2, Length, t).copy_(k);
        values[layer].narrow(2, Length, t).copy_(v);
        return (keys[layer].narrow(2, 0, Length + t), values[layer].narrow(2, 0, Length + t));
    }

    public void Advance(long positions) => Length += positions;

    /// <summary>Forgets everything (the buffers are reused).</summary>
    public void Reset() => Length = 0;

    /// <summary>Drops positions from the end, e.g. to rewind a chat to an earlier turn.</summary>
    public void Truncate(long length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        Length = length;
    }

    public void Dispose()
    {
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
