using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// Keys and values of up to <see cref="Slots"/> sequences of different lengths, for continuous batching: one
/// preallocated buffer per layer, [slots, kvHeads, capacity, headDim], whose first <see cref="Rows"/> rows are the
/// sequences in flight. A decoding step feeds one token per row; each row writes its key/value after its own length
/// and attends to its own positions only (<see cref="DecodeInputs"/> gives the positions and mask). Rows stay packed
/// at the front, so a step works on a view, never a gathered copy: a finished row is replaced by the last one.
/// </summary>
public sealed class SlotKvCache : IKvCache, IDisposable
{
    readonly Tensor[] keys, values;
    readonly long[] lengths;
    Tensor? writeIndex; // [rows, kvHeads, 1, headDim]: where each row's key/value goes in this step

    /// <param name="device">where the buffers are: the model's device (<see cref="LlamaForCausalLM.Device"/>; null = the CPU)</param>
    public SlotKvCache(LlamaConfig config, int slots, long capacity, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        if (slots < 1) throw new SharpLMException($"a KV cache needs at least one slot, got {slots}");
        if (capacity > config.MaxPositionEmbeddings)
            throw new SharpLMException($"KV cache of {capacity} positions exceeds max_position_embeddings ({config.MaxPositionEmbeddings})");
        Slots = slots;
        Capacity = capacity;
        lengths = new long[slots];
        keys = new Tensor[config.NumHiddenLayers];
        values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = zeros([slots, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device: device).DetachFromDisposeScope();
            values[i] = zeros([slots, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device: device).DetachFromDisposeScope();
        }
    }

    /// <summary>Bytes one cached position takes (keys and values of every layer) in one row.</summary>
    public static long BytesPerPosition(LlamaConfig config, ScalarType dtype) =>
        2L * config.NumHiddenLayers * config.NumKeyValueHeads * config.HeadDim * (dtype is ScalarType.Float32 ? 4 : 2);

    public int Slots { get; }

    /// <summary>Positions one row can hold.</summary>
    public long Capacity { get; }

    /// <summary>Rows in flight, packed at the front.</summary>
    public int Rows { get; private set; }

    /// <summary>The longest row's length.</summary>
    public long Length
    {
        get
        {
            long longest = 0;
            for (int r = 0; r < Rows; r++) longest = Math.Max(longest, lengths[r]);
            return longest;
        }
    }

    /// <summary>Positions stored in <paramref name="row"/>.</summary>
    public long RowLength(int row) => lengths[CheckRow(row)];

    /// <summary>Adds a row holding the first <paramref name="length"/> positions of <paramref name="prefilled"/>'s
    /// first sequence (a prompt prefilled on its own) and returns its index.</summary>
    public int AddRow(KvCache prefilled, long length)
    {
        if (Rows == Slots) throw new SharpLMException($"all {Slots} KV cache slots are in use");
        if (length > Capacity) throw new SharpLMException($"{length} positions do not fit a KV cache row of {Capacity}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int row = Rows;
        for (int layer = 0; layer < keys.Length; layer++)
        {
            var (k, v) = prefilled.Layer(layer);
            keys[layer][row].narrow(1, 0, length).copy_(k[0].narrow(1, 0, length));
            values[layer][row].narrow(1, 0, length).copy_(v[0].narrow(1, 0, length));
        }
        lengths[row] = length;
        Rows++;
        return row;
    }

    /// <summary>Frees <paramref name="row"/>: the last row moves into its place (so rows stay packed), and its old
    /// index is returned (-1 when the removed row was the last).</summary>
    public int RemoveRow(int row)
    {
        CheckRow(row);
        int last = Rows - 1;
        if (row != last)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            long length = lengths[last];
            for (int layer = 0; layer < keys.Length; layer++)
            {
                keys[layer][row].narrow(1, 0, length).copy_(keys[layer][last].narrow(1, 0, length));
                values[layer][row].narrow(1, 0, length).copy_(values[layer][last].narrow(1, 0, length));
            }
            lengths[row] = length;
        }
        Rows--;
        return row == last ? -1 : last;
    }

    /// <summary>The position ids [rows, 1] and attention mask [rows, 1, 1, keys] of a decoding step that feeds one
    /// token to every row (null mask when all rows have the same length: each then sees every cached key). Also
    /// fixes where <see cref="Append"/> writes. The tensors belong to the caller's dispose scope.</summary>
    public (Tensor PositionIds, Tensor? Mask) DecodeInputs()
    {
        if (Rows == 0) throw new InvalidOperationException("no rows in flight");
        var rowLengths = lengths.AsSpan(0, Rows).ToArray();
        long longest = rowLengths.Max();
        if (longest >= Capacity) throw new SharpLMException($"a KV cache row is full ({Capacity} positions)");
        var device = keys[0].device;
        var positions = tensor(rowLengths, dtype: int64, device: device).view(Rows, 1);
        writeIndex?.Dispose();
        writeIndex = null;
        if (rowLengths.All(l => l == longest)) return (positions, null);
        long kvHeads = keys[0].size(1), headDim = keys[0].size(3);
        writeIndex = positions.view(Rows, 1, 1, 1).expand(Rows, kvHeads, 1, headDim).contiguous().DetachFromDisposeScope();
        var mask = arange(longest + 1, dtype: int64, device: device).view(1, -1).le(positions).view(Rows, 1, 1, longest + 1);
        return (positions, mask);
    }

    /// <summary>Writes one position per row (k, v: [rows, kvHeads, 1, headDim]) after each row's length and returns
    /// keys/values up to the longest row's new length; positions past a row's own length are masked by
    /// <see cref="DecodeInputs"/>.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        if (k.size(0) != Rows || k.size(2) != 1)
            throw new SharpLMException($"a slot cache step takes one position for each of its {Rows} rows, got [{string.Join(", ", k.shape)}]");
        long longest = Length;
        var rowKeys = keys[layer].narrow(0, 0, Rows);
        var rowValues = values[layer].narrow(0, 0, Rows);
        if (writeIndex is null)
        {
            rowKeys.narrow(2, longest, 1).copy_(k);
            rowValues.narrow(2, longest, 1).copy_(v);
        }
        else
        {
            rowKeys.scatter_(2, writeIndex, k);
            rowValues.scatter_(2, writeIndex, v);
        }
        return (rowKeys.narrow(2, 0, longest + 1), rowValues.narrow(2, 0, longest + 1));
    }

    public void Advance(long positions)
    {
        if (positions != 1) throw new SharpLMException("a slot cache step advances every row by one position");
        for (int r = 0; r < Rows; r++) lengths[r]++;
    }

    int CheckRow(int row) =>
        row >= 0 && row < Rows ? row : throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is not in flight ({Rows} rows)");

    public void Dispose()
    {
        writeIndex?.Dispose();
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
