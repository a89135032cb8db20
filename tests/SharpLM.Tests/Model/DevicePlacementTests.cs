using SharpLM.Adapters;
using SharpLM.Data;
using SharpLM.Model;
using SharpLM.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>
/// What a model on another device than the CPU gets, checked on libtorch's "meta" device as a stand-in for a GPU this
/// machine lacks: meta tensors have shapes but no data, and libtorch refuses to mix them with CPU tensors (as it refuses
/// CPU with CUDA), so a tensor left on the CPU shows. A forward pass cannot run on meta (several kernels have no meta
/// version, and reading a value is impossible), so these check the pieces: the moved model, and the tensors that
/// generation, adapters and training make for it.
/// </summary>
public sealed class DevicePlacementTests
{
    static readonly Device Meta = new(DeviceType.META);

    static LlamaForCausalLM TinyOnMeta()
    {
        var model = TestModels.Tiny();
        model.to(Meta);
        return model;
    }

    static void AssertOnMeta(Tensor? t, string what) => Assert.True(t?.device_type == DeviceType.META, $"{what} is on {t?.device}");

    [Fact]
    public void AMovedModelHasEveryWeightAndItsRotaryTablesThere()
    {
        using var model = TinyOnMeta();
        Assert.Equal(DeviceType.META, model.Device.type);
        foreach (var (name, p) in model.named_parameters()) AssertOnMeta(p, name);
        var (cos, sin) = model.model.rotary_emb.ForRange(0, 4); // buffers TorchSharp's Module.to passes over
        AssertOnMeta(cos, "the rotary cos table");
        AssertOnMeta(sin, "the rotary sin table");
        AssertOnMeta(RotaryEmbedding.Apply(ones(1, 4, 4, model.Config.HeadDim, device: Meta), cos, sin), "a rotated query");
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("Table")); // still not saved with the weights
    }

    [Fact]
    public void CachesAndMasksAreMadeOnTheModelsDevice()
    {
        using var model = TinyOnMeta();
        using var scope = NewDisposeScope();
        using var prefilled = new KvCache(model.Config, 1, 8, device: model.Device);
        var (keys, values) = prefilled.Layer(0);
        AssertOnMeta(keys, "KV cache keys");
        AssertOnMeta(values, "KV cache values");
        using var slots = new SlotKvCache(model.Config, slots: 2, capacity: 8, device: model.Device);
        slots.AddRow(prefilled, 3);
        slots.AddRow(prefilled, 5);
        var (positions, mask) = slots.DecodeInputs(); // rows of different lengths: a mask of its own
        AssertOnMeta(positions, "decoding positions");
        AssertOnMeta(mask, "the decoding mask");
        // (Padding and packed-row masks are made on their input's device too, but logical_and has no meta kernel to show it.)
        AssertOnMeta(AttentionMasks.For(2, 4, 3, device: model.Device), "a chunked prefill's mask");
    }

    [Fact]
    public void AdaptersAndAddedRowsFollowTheModel()
    {
        using var model = TinyOnMeta();
        new AddedTokenRows(FirstId: 60, Count: 8, BaseVocabSize: 64).ApplyTo(model); // grows the matrices to 68 rows
        Assert.Equal(68, model.model.embed_tokens.weight!.shape[0]);
        AssertOnMeta(model.model.embed_tokens.weight, "the grown embedding");
        var trainable = Lora.Apply(model, new LoraOptions { Rank = 2, UseDora = true }, seed: 3);
        foreach (var (name, p) in trainable) AssertOnMeta(p, name);
    }

    [Fact]
    public void TrainingStateAndBatchesFollowTheModel()
    {
        using var model = TinyOnMeta();
        var batch = new TrainingBatch
        {
            InputIds = zeros(2, 4, int64), Labels = zeros(2, 4, int64), AttentionMask = ones(2, 4, int64), ReferenceLogps = zeros(2, float64),
        };
        using var moved = batch.To(model.Device);
        foreach (var (t, what) in new[] { (moved.InputIds, "ids"), (moved.Labels, "labels"), (moved.AttentionMask, "mask"),
                                          (moved.ReferenceLogps, "reference log-probabilities") })
            AssertOnMeta(t, what);
        Assert.True(batch.InputIds.IsInvalid); // the CPU batch is freed

        var norm = model.model.norm.weight;
        using var optimizer = new AdamW([new AdamW.Entry("model.norm.weight", norm, false)], new AdamW.Options());
        using var m = zeros(norm.shape);
        using var v = zeros(norm.shape);
        optimizer.LoadState(1, new Dictionary<string, Tensor> { ["exp_avg.model.norm.weight"] = m, ["exp_avg_sq.model.norm.weight"] = v }, "test");
        foreach (var (name, t) in optimizer.StateTensors()) AssertOnMeta(t, name); // a checkpoint's moments, read on the CPU
    }

    [Fact]
    public void EightBitWeightsAndTheBf16KernelStayOnTheCpu()
    {
        using var model = TinyOnMeta();
        var e = Assert.Throws<SharpLMException>(() => model.QuantizeForInference());
        Assert.Contains("8-bit weights (QuantizeForInference) run on the CPU only, and this model is on meta", e.Message);
        using var bf16 = ones(16, 16, ScalarType.BFloat16, device: Meta);
        Assert.False(Bf16Product.Applies(bf16, 1)); // libtorch's matmul then, not the CPU kernel
    }
}
