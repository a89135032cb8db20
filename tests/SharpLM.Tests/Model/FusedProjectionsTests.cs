using SharpLM.Adapters;
using SharpLM.Generation;
using SharpLM.Model;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

/// <summary>Every test that switches <see cref="FusedProjections.Enabled"/> is in this class, so none runs beside another
/// that needs it on.</summary>
public sealed class FusedProjectionsTests
{
    const int InFeatures = 64;

    // q, k and v sizes: 352 output rows, which two threads split at 176, inside k's block.
    static readonly int[] OutFeatures = [160, 96, 96];

    public static TheoryData<string, string, int, int> Cases()
    {
        var cases = new TheoryData<string, string, int, int>();
        foreach (var (weights, input) in new[] { ("fp32", "fp32"), ("bf16", "bf16"), ("bf16", "fp32"), ("q8", "fp32"), ("q8", "bf16") })
            foreach (int rows in new[] { 1, 3, 8 })
                foreach (int threads in new[] { 1, 2 })
                    cases.Add(weights, input, rows, threads);
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheFusedOutputsAreBitwiseTheProjectionsOwnAndViewsOfOneTensor(string weights, string input, int rows, int threads)
    {
        var projections = Projections(weights);
        using var noGrad = no_grad();
        using var x = Input(rows, input);
        var fused = FusedProjections.Forward(x, threads, projections);
        // Without AVX2 and FMA only 8-bit weights have a decoding kernel; the others go through libtorch, one by one.
        if (weights != "q8" && !DenseProduct.Runs)
        {
            Assert.Null(fused);
            return;
        }
        Assert.NotNull(fused);
        long offset = 0;
        foreach (var (projection, output) in projections.Zip(fused))
        {
            AssertBitwiseEqual(projection.forward(x), output);
            Assert.Equal(offset, output.storage_offset()); // its column block of the one output [rows, 352]
            offset += projection.OutFeatures;
        }
    }

    [Theory]
    [InlineData("fp32", "fp32", 3, 2)]
    [InlineData("bf16", "bf16", 1, 1)]
    [InlineData("bf16", "bf16", 8, 2)]
    [InlineData("q8", "bf16", 8, 2)]
    public void BiasesAreAddedAsEachProjectionAddsItsOwn(string weights, string input, int rows, int threads)
    {
        if (weights != "q8" && !DenseProduct.Runs) return; // the fp32 and bf16 decode kernels need AVX2 and FMA
        var projections = Projections(weights, bias: true);
        using var noGrad = no_grad();
        using var x = Input(rows, input);
        var fused = FusedProjections.Forward(x, threads, projections);
        Assert.NotNull(fused);
        foreach (var (projection, output) in projections.Zip(fused)) AssertBitwiseEqual(projection.forward(x), output);
    }

    [Fact]
    public void ProjectionsThatNeedAGradientAreLeftToTheirOwnForward()
    {
        if (!DenseProduct.Runs) return; // the fp32 and bf16 decode kernels need AVX2 and FMA
        var projections = Projections("fp32"); // parameters require gradients, as when training
        using var x = Input(1, "fp32");
        Assert.Null(FusedProjections.Forward(x, projections));
        using (no_grad()) Assert.NotNull(FusedProjections.Forward(x, projections));
        foreach (var p in projections) p.weight.requires_grad = false; // frozen weights, no gradient anywhere
        Assert.NotNull(FusedProjections.Forward(x, projections));
        x.requires_grad = true;
        Assert.Null(FusedProjections.Forward(x, projections));
        var quantised = Projections("q8");
        Assert.Null(FusedProjections.Forward(x, quantised));
    }

    [Fact]
    public void AnAdapterSwitchedOnLeavesTheProjectionsToTheirOwnForward()
    {
        if (!DenseProduct.Runs) return; // the fp32 and bf16 decode kernels need AVX2 and FMA
        var projections = Projections("fp32");
        using var noGrad = no_grad();
        using var x = Input(2, "fp32");
        projections[1].Attach(new LoraAdapter(projections[1], new LoraOptions(), new Generator(1), ScalarType.Float32));
        Assert.Null(FusedProjections.Forward(x, projections));
        projections[1].AdapterEnabled = false; // the base alone, as a preference-training reference computes it
        Assert.NotNull(FusedProjections.Forward(x, projections));
    }

    [Fact]
    public void RowsAndShapesTheDecodeKernelsDoNotTakeAreLeftToEachProjection()
    {
        if (!DenseProduct.Runs) return; // the fp32 and bf16 decode kernels need AVX2 and FMA
        var projections = Projections("fp32");
        using var noGrad = no_grad();
        using var prompt = Input(DenseProduct.MaxRows + 1, "fp32");
        Assert.Null(FusedProjections.Forward(prompt, projections));
        using var strided = randn(InFeatures, 2).t();
        Assert.Null(FusedProjections.Forward(strided, projections));
        using var half = Input(1, "fp32").to(ScalarType.Float16);
        Assert.Null(FusedProjections.Forward(half, projections));

        using var x = Input(1, "fp32");
        var wider = RandomProjection(InFeatures * 2, 96, "fp32", bias: false, seed: 4);
        Assert.Null(FusedProjections.Forward(x, projections[0], wider));
        var biased = RandomProjection(InFeatures, 96, "fp32", bias: true, seed: 4);
        Assert.Null(FusedProjections.Forward(x, projections[0], biased));
        projections[2].ComputeType = ScalarType.BFloat16; // bf16 products over fp32 weights go through libtorch
        Assert.Null(FusedProjections.Forward(x, projections));
        projections[2].ComputeType = null;
        Assert.NotNull(FusedProjections.Forward(x, projections));
    }

    [Fact]
    public void ProjectionsOnDifferentKernelsShareASplitEachOnItsOwn()
    {
        if (!DenseProduct.Runs) return; // the fp32 and bf16 decode kernels need AVX2 and FMA
        // Each projection's rows run on the kernel its own forward would use, whatever the others use.
        Projection[] projections = [RandomProjection(InFeatures, 160, "q8", false, 1), RandomProjection(InFeatures, 96, "bf16", false, 2),
            RandomProjection(InFeatures, 96, "fp32", false, 3)];
        using var noGrad = no_grad();
        using var x = Input(3, "fp32");
        var fused = FusedProjections.Forward(x, 2, projections);
        Assert.NotNull(fused);
        foreach (var (projection, output) in projections.Zip(fused)) AssertBitwiseEqual(projection.forward(x), output);
    }

    [Fact]
    public void TheTinyPresetDecodesGreedilyAsItsWholeForwardsPredict()
    {
        if (!DenseProduct.Runs) return; // the fp32 and bf16 decode kernels need AVX2 and FMA
        using var model = new LlamaForCausalLM(ModelPresets.Get("tiny"));
        model.InitializeWeights(12);
        model.eval();
        var attention = model.model.layers[0].self_attn;
        var mlp = model.model.layers[0].mlp;
        using (no_grad())
        {
            using var x = randn(1, 1, model.Config.HiddenSize);
            Assert.NotNull(FusedProjections.Forward(x, attention.q_proj, attention.k_proj, attention.v_proj));
            Assert.NotNull(FusedProjections.Forward(x, mlp.gate_proj, mlp.up_proj));
        }
        // Nine prompt tokens: every whole forward below has more rows than the decode kernels take, so none is fused.
        int[] prompt = [5, 81, 300, 17, 42, 256, 9, 133, 64];
        var options = SamplingOptions.Greedy with { MaxNewTokens = 16, StopAtEos = false };
        var generated = new TokenGenerator(model).Generate(prompt, options, new HashSet<int>()).ToArray();
        Assert.Equal(16, generated.Length);
        for (int i = 0; i < generated.Length; i++)
            Assert.Equal(TokenSampler.ArgMax(TestModels.LastLogits(model, [.. prompt, .. generated[..i]])), generated[i]);
    }

    [Theory]
    [InlineData("llama", "fp32", 1)]
    [InlineData("llama", "fp32", 3)]
    [InlineData("llama", "bf16", 1)]
    [InlineData("llama", "bf16", 3)]
    [InlineData("llama", "q8", 1)]
    [InlineData("llama", "q8", 3)]
    [InlineData("qwen2", "fp32", 3)]
    [InlineData("qwen2", "bf16", 1)]
    [InlineData("qwen3", "bf16", 3)]
    public void DecodingGivesTheSameLogitsBitForBitFusedOrNot(string family, string weights, int batch)
    {
        using var model = Model(family, weights);
        var fused = Decode(model, batch);
        FusedProjections.Enabled = false;
        try
        {
            var separate = Decode(model, batch);
            Assert.Equal(separate.Count, fused.Count);
            foreach (var (expected, actual) in separate.Zip(fused)) Assert.Equal(expected, actual);
        }
        finally
        {
            FusedProjections.Enabled = true;
        }
    }

    /// <summary>The raw bytes of the logits of a short prompt's whole forward without a cache (few rows: fused too), of a longer
    /// prompt's prefill into a cache, and of four decoding steps after it, for <paramref name="batch"/> sequences.</summary>
    static List<byte[]> Decode(LlamaForCausalLM model, int batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = new List<byte[]>();
        var ids = TestModels.RandomIds(batch, 14, model.Config.VocabSize, seed: 5);
        logits.Add(model.forward(ids.narrow(1, 0, 2)).contiguous().bytes.ToArray());
        using var cache = new KvCache(model.Config, batch, 16, model.model.norm.weight.dtype);
        var options = new ForwardOptions { Cache = cache };
        logits.Add(model.forward(ids.narrow(1, 0, 10), options).contiguous().bytes.ToArray());
        for (int t = 10; t < 14; t++) logits.Add(model.forward(ids.narrow(1, t, 1), options).contiguous().bytes.ToArray());
        return logits;
    }

    static LlamaForCausalLM Model(string family, string weights)
    {
        var config = ModelPresets.Get("tiny");
        config.ModelType = family;
        // Not a multiple of libtorch's vector loop (32 floats): its scalar loop then runs a strided row's tail (a fused
        // output's) and a contiguous tensor's end, and silu's two loops round differently.
        config.IntermediateSize = 176;
        var model = new LlamaForCausalLM(config);
        model.InitializeWeights(9);
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
            {
                // Initialised biases are zeros and norms ones: make them matter.
                if (name.EndsWith(".bias")) p.normal_(0, 0.5);
                if (name.EndsWith("q_norm.weight") || name.EndsWith("k_norm.weight")) p.uniform_(0.5, 1.5);
            }
        if (weights == "bf16") model.to(ScalarType.BFloat16);
        if (weights == "q8") model.QuantizeForInference();
        model.eval();
        return model;
    }

    /// <summary>Three projections of the same input, as q/k/v, with weights of the given kind.</summary>
    static Projection[] Projections(string weights, bool bias = false) =>
        [.. OutFeatures.Select((size, i) => RandomProjection(InFeatures, size, weights, bias, seed: 20 + i))];

    static Projection RandomProjection(int inFeatures, int outFeatures, string weights, bool bias, long seed)
    {
        var projection = new Projection(inFeatures, outFeatures, bias);
        var generator = new Generator((ulong)seed);
        using (no_grad())
        {
            projection.weight.copy_(randn(outFeatures, inFeatures, generator: generator) * 0.1);
            projection.bias?.copy_(randn(outFeatures, generator: generator));
        }
        if (weights == "bf16") projection.to(ScalarType.BFloat16);
        if (weights == "q8") projection.QuantizeForInference();
        return projection;
    }

    static Tensor Input(int rows, string dtype)
    {
        var x = randn(rows, 1, InFeatures, generator: new Generator((ulong)(100 + rows)));
        return dtype == "bf16" ? x.to(ScalarType.BFloat16) : x;
    }

    static void AssertBitwiseEqual(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.contiguous().bytes.ToArray(), actual.contiguous().bytes.ToArray());
    }
}
