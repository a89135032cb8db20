using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Tests.Model;

/// <summary>Training's causal attention on SharpLM's kernels against libtorch's scaled-dot-product attention (k and v
/// repeated per query head): the output and the gradients of q, k and v, for sequences that end inside a block of queries
/// and a tile of keys, with and without grouped-query attention, on one thread and two.</summary>
public sealed class CausalAttentionTests
{
    const int Batch = 2, Heads = 4;

    public static TheoryData<int, int, int> Shapes()
    {
        var shapes = new TheoryData<int, int, int>();
        foreach (int kvHeads in new[] { 2, 4 })
        foreach (int t in new[] { 1, 17, 130 })
        foreach (int d in new[] { 16, 64 })
            shapes.Add(kvHeads, t, d);
        return shapes;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void OutputAndGradientsMatchLibtorchOnOneThreadAndTwo(int kvHeads, int t, int d)
    {
        var inputs = Inputs(kvHeads, t, d, seed: t * 10 + d);
        if (!Applies(inputs)) return; // no AVX-512: the model leaves attention to libtorch
        var expected = Run(Reference, inputs, true, true, true);
        var oneThread = Run((q, k, v) => CausalAttention.Apply(q, k, v, threads: 1), inputs, true, true, true);
        var twoThreads = Run((q, k, v) => CausalAttention.Apply(q, k, v, threads: 2), inputs, true, true, true);
        AssertClose(expected, oneThread);
        for (int i = 0; i < 4; i++) Assert.True(Bitwise(oneThread[i]!, twoThreads[i]!), $"result {i} depends on the thread count");
    }

    [Theory]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    [InlineData(false, true, true)]
    public void OnlyTheInputsThatNeedAGradientGetOne(bool query, bool key, bool value)
    {
        var inputs = Inputs(2, 70, 32, seed: 5);
        if (!Applies(inputs)) return;
        var expected = Run(Reference, inputs, query, key, value);
        var actual = Run(CausalAttention.Apply, inputs, query, key, value);
        Assert.Equal(query, actual[1] is not null);
        Assert.Equal(key, actual[2] is not null);
        Assert.Equal(value, actual[3] is not null);
        AssertClose(expected, actual);
    }

    [Fact]
    public void InputsInAnyLayoutAreRead()
    {
        // q contiguous as [batch, heads, t, d], k read through a copy (its rows are strided), v the usual transposed view.
        var (q0, k0, v0, r) = Inputs(2, 40, 32, seed: 9);
        using var q = q0.contiguous();
        using var k = k0.transpose(2, 3).contiguous().transpose(2, 3);
        var inputs = (q, k, v0.transpose(1, 2), r);
        if (!Applies(inputs)) return;
        Assert.False(k.is_contiguous());
        AssertClose(Run(Reference, inputs, true, true, true), Run(CausalAttention.Apply, inputs, true, true, true));
    }

    [Fact]
    public void ItTakesOnlyTrainingsFp32PassesWithHeadsOfMultiplesOf16()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return;
        var (q, k, v, _) = Inputs(2, 5, 16, seed: 1);
        using var trained = q.detach().clone().requires_grad_(true);
        Assert.True(CausalAttention.Applies(trained, k, v));
        Assert.False(CausalAttention.Applies(q, k, v)); // nothing needs a gradient
        using (no_grad()) Assert.False(CausalAttention.Applies(trained, k, v));
        using var half = trained.to(ScalarType.BFloat16);
        Assert.False(CausalAttention.Applies(half, k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16)));
        var (q8, k8, v8, _) = Inputs(2, 5, 8, seed: 1);
        Assert.False(CausalAttention.Applies(q8.detach().clone().requires_grad_(true), k8, v8));
    }

    [Fact]
    public void ATinyModelsGradientsMatchThoseOfLibtorchsAttention()
    {
        var config = TestModels.TinyConfig();
        config.HiddenSize = 64; // head dim 16, which the kernels take
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(3);
        model.train();
        using var ids = TestModels.RandomIds(2, 37, config.VocabSize);
        var on = Gradients(model, ids);
        CausalAttention.Enabled = false;
        Dictionary<string, Tensor> off;
        try
        {
            off = Gradients(model, ids);
        }
        finally
        {
            CausalAttention.Enabled = true;
        }
        Assert.Equal(off.Keys, on.Keys);
        foreach (var (name, gradient) in off) AssertClose(gradient, on[name], name);
        // The kernels ran (where the CPU has AVX-512): not every gradient is libtorch's to the bit.
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Contains(off, p => !Bitwise(p.Value, on[p.Key]));
    }

    static bool Bitwise(Tensor a, Tensor b) => a.contiguous().bytes.SequenceEqual(b.contiguous().bytes);

    static Dictionary<string, Tensor> Gradients(LlamaForCausalLM model, Tensor ids)
    {
        model.zero_grad();
        using (var logits = model.forward(ids)) F.cross_entropy(logits.view(-1, logits.size(-1)), ids.view(-1)).backward();
        return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
    }

    static (Tensor Q, Tensor K, Tensor V, Tensor OutputGradient) Inputs(int kvHeads, int t, int d, int seed)
    {
        var generator = new Generator((ulong)seed);
        // As the model passes them: [batch, t, heads, d] from the projections, transposed.
        var q = randn(Batch, t, Heads, d, generator: generator).transpose(1, 2);
        var k = randn(Batch, t, kvHeads, d, generator: generator).transpose(1, 2);
        var v = randn(Batch, t, kvHeads, d, generator: generator).transpose(1, 2);
        return (q, k, v, randn(Batch, t, Heads * d, generator: generator));
    }

    static bool Applies((Tensor Q, Tensor K, Tensor V, Tensor) inputs)
    {
        using var q = inputs.Q.detach().clone().requires_grad_(true);
        return CausalAttention.Applies(q, inputs.K, inputs.V);
    }

    static Tensor Reference(Tensor q, Tensor k, Tensor v)
    {
        long b = q.size(0), heads = q.size(1), t = q.size(2), group = heads / k.size(1);
        var y = F.scaled_dot_product_attention(q, k.repeat_interleave(group, dim: 1), v.repeat_interleave(group, dim: 1), null, 0.0, true);
        return y.transpose(1, 2).reshape(b, t, -1);
    }

    // y = attention(q, k, v) as [batch, t, heads * d], then the gradients of sum(y * r) of the inputs that need one.
    static Tensor?[] Run(Func<Tensor, Tensor, Tensor, Tensor> attention, (Tensor Q, Tensor K, Tensor V, Tensor R) inputs, bool query,
        bool key, bool value)
    {
        var q = inputs.Q.detach().clone().requires_grad_(query);
        var k = inputs.K.detach().clone().requires_grad_(key);
        var v = inputs.V.detach().clone().requires_grad_(value);
        var y = attention(q, k, v);
        (y * inputs.R).sum().backward();
        return [y.detach(), q.grad, k.grad, v.grad];
    }

    static void AssertClose(Tensor?[] expected, Tensor?[] actual)
    {
        string[] names = ["output", "dq", "dk", "dv"];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i] is null, actual[i] is null);
            if (expected[i] is not null) AssertClose(expected[i]!, actual[i]!, names[i], scale: 1);
        }
    }

    // Within 1e-5 of the largest magnitude, or of scale where that is larger: with a single key, dq is zero up to rounding
    // errors of the size of the inputs' (unit) scale.
    static void AssertClose(Tensor expected, Tensor actual, string name, double scale = 0)
    {
        Assert.Equal(expected.shape, actual.shape);
        double error = (expected - actual).abs().max().item<float>(), largest = expected.abs().max().item<float>();
        Assert.True(error <= 1e-5 * Math.Max(largest, scale), $"{name}: largest difference {error:G3}, largest magnitude {largest:G3}");
    }
}
