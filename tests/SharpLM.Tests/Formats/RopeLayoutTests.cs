using SharpLM.Hub;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Formats;

public class RopeLayoutTests
{
    const int Heads = 4, KvHeads = 2, HeadDim = 8, Hidden = Heads * HeadDim, Seq = 6;
    const double Theta = 10_000;

    [Fact]
    public void PermutationsAreInverseAndMoveTheDocumentedRows()
    {
        using var w = arange(2 * HeadDim * 3, dtype: float32).view(2 * HeadDim, 3);
        using var half = RopeLayout.ToRotateHalf(w, heads: 2);
        Assert.True(RopeLayout.ToInterleaved(half, 2).Equals(w));
        Assert.True(RopeLayout.ToRotateHalf(RopeLayout.ToInterleaved(w, 2), 2).Equals(w));
        // Head 1, pair j = 1: interleaved rows 8 + 2 and 8 + 3 become rotate-half rows 8 + 1 and 8 + 1 + 4.
        Assert.True(half[HeadDim + 1].Equals(w[HeadDim + 2]));
        Assert.True(half[HeadDim + 1 + HeadDim / 2].Equals(w[HeadDim + 3]));
    }

    /// <summary>SharpLM's rotate-half attention with permuted q/k weights computes what attention with
    /// interleaved RoPE (llama2.c, Meta, llama.cpp) computes with the original weights.</summary>
    [Fact]
    public void PermutedWeightsMakeRotateHalfAttentionEqualInterleavedAttention()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(11);
        var wq = randn([Hidden, Hidden], generator: g);
        var wk = randn([KvHeads * HeadDim, Hidden], generator: g);
        var wv = randn([KvHeads * HeadDim, Hidden], generator: g);
        var wo = randn([Hidden, Hidden], generator: g);
        var x = randn([1, Seq, Hidden], generator: g);

        var config = new LlamaConfig
        {
            VocabSize = 8, HiddenSize = Hidden, IntermediateSize = 8, NumHiddenLayers = 1,
            NumAttentionHeads = Heads, NumKeyValueHeadsRaw = KvHeads, MaxPositionEmbeddings = 16, RopeTheta = Theta,
        };
        var attention = new Attention(config, 0);
        using (no_grad())
        {
            attention.q_proj.weight.copy_(RopeLayout.ToRotateHalf(wq, Heads));
            attention.k_proj.weight.copy_(RopeLayout.ToRotateHalf(wk, KvHeads));
            attention.v_proj.weight.copy_(wv);
            attention.o_proj.weight.copy_(wo);
        }
        var rope = new RotaryEmbedding(HeadDim, 16, Theta);
        var (cos, sin) = rope.ForRange(0, Seq);
        using var noGrad = no_grad();
        var actual = attention.forward(x, cos, sin, null, null);

        var expected = InterleavedReference(x, wq, wk, wv, wo);
        var error = (actual - expected).abs().max().item<float>();
        Assert.True(error < 1e-4f * expected.abs().max().item<float>(), $"max abs difference {error}");

        // Without the permutation the layouts disagree: the test can tell them apart.
        using (no_grad())
        {
            attention.q_proj.weight.copy_(wq);
            attention.k_proj.weight.copy_(wk);
        }
        var unpermuted = attention.forward(x, cos, sin, null, null);
        Assert.True((unpermuted - expected).abs().max().item<float>() > 1e-2f);
    }

    /// <summary>Causal GQA attention in float64 with RoPE rotating (x[2j], x[2j+1]) by pos * theta^(-2j/d), as llama2.c's run.c does.</summary>
    static Tensor InterleavedReference(Tensor x, Tensor wq, Tensor wk, Tensor wv, Tensor wo)
    {
        var xd = x[0].to(float64);
        var q = Rotate(xd.matmul(wq.to(float64).t()).view(Seq, Heads, HeadDim));
        var k = Rotate(xd.matmul(wk.to(float64).t()).view(Seq, KvHeads, HeadDim));
        var v = xd.matmul(wv.to(float64).t()).view(Seq, KvHeads, HeadDim);
        var output = zeros(Seq, Heads, HeadDim, dtype: float64);
        for (int h = 0; h < Heads; h++)
        {
            int kv = h / (Heads / KvHeads);
            for (int t = 0; t < Seq; t++)
            {
                var scores = k[TensorIndex.Slice(0, t + 1), kv].matmul(q[t, h]) / Math.Sqrt(HeadDim);
                output[t, h] = scores.softmax(0).matmul(v[TensorIndex.Slice(0, t + 1), kv]);
            }
        }
        return output.view(1, Seq, Hidden).matmul(wo.to(float64).t()).to(float32);
    }

    static Tensor Rotate(Tensor x)
    {
        var result = x.clone();
        for (int t = 0; t < Seq; t++)
            for (int j = 0; j < HeadDim / 2; j++)
            {
                double angle = t * Math.Pow(Theta, -2.0 * j / HeadDim);
                var a = x[t, TensorIndex.Colon, 2 * j];
                var b = x[t, TensorIndex.Colon, 2 * j + 1];
                result[t, TensorIndex.Colon, 2 * j] = a * Math.Cos(angle) - b * Math.Sin(angle);
                result[t, TensorIndex.Colon, 2 * j + 1] = a * Math.Sin(angle) + b * Math.Cos(angle);
            }
        return result;
    }
}
