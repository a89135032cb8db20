using SharpLM.Adapters;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Tests.Model;

/// <summary>bf16 products on SharpLM's kernels whose input the operation before them rounded as it wrote it (the norms'
/// outputs for q/k/v and gate/up, SwiGLU's for down): the same arithmetic as rounding it in every product.</summary>
public sealed class Bf16ProducerRoundingTests
{
    static bool Bf16Exact(Tensor t) => t.eq(t.to(ScalarType.BFloat16).to(ScalarType.Float32)).all().item<bool>();

    [Fact]
    public void ATinyModelsLossAndGradientsAreTheSameBitForBit()
    {
        using var model = TestModels.Tiny(seed: 4);
        model.train();
        model.SetComputeType(ScalarType.BFloat16, bf16OnKernels: true);
        using var batch = new TrainingBatch
        {
            InputIds = randint(model.Config.VocabSize, [2, 24], generator: new Generator(2)),
            Labels = randint(model.Config.VocabSize, [2, 24], generator: new Generator(3)),
        };
        if (!KernelLinear.Applies(randn(48, 32), model.model.layers[0].self_attn.q_proj.weight, 48)) return; // no AVX-512
        var layer = model.model.layers[0];
        Assert.True(layer.self_attn.RoundsInputToBf16 && layer.mlp.RoundsInputToBf16 && layer.mlp.down_proj.RoundsInputToBf16);

        (float Loss, Dictionary<string, Tensor> Gradients) Step(bool producersRound)
        {
            Bf16Operands.ProducersRound = producersRound;
            try
            {
                using var loss = LanguageModelLoss.Sum(model, batch);
                loss.backward();
                var gradients = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
                foreach (var p in model.parameters()) p.grad = null;
                return (loss.item<float>(), gradients);
            }
            finally
            {
                Bf16Operands.ProducersRound = true;
            }
        }

        var (rounded, inProducts) = (Step(producersRound: true), Step(producersRound: false));
        Assert.Equal(inProducts.Loss, rounded.Loss);
        foreach (var (name, gradient) in inProducts.Gradients)
            Assert.True(gradient.eq(rounded.Gradients[name]).all().item<bool>(), name);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ANormRoundsAndMarksItsOutputOnlyWhenAsked(bool round)
    {
        var norm = new RmsNorm(32, 1e-5);
        using var x = randn([3, 20, 32], generator: new Generator(5)).requires_grad_(true);
        using var y = norm.Forward(x, round);
        Assert.Equal(round, Bf16Operands.IsRounded(y));
        Assert.Equal(round, Bf16Exact(y));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SwiGluRoundsAndMarksItsOutputOnlyWhenAsked(bool round)
    {
        var generator = new Generator(6);
        using var gate = randn([3, 20, 64], generator: generator).requires_grad_(true);
        using var up = randn([3, 20, 64], generator: generator).requires_grad_(true);
        if (!FusedSwiGlu.Applies(gate, up)) return; // no AVX-512: libtorch's steps, which do not round
        using var y = Mlp.Gating(gate, up, round);
        Assert.Equal(round, Bf16Operands.IsRounded(y));
        Assert.Equal(round, Bf16Exact(y));
        using var unrounded = F.silu(gate) * up;
        Assert.True(y.allclose(unrounded, rtol: 1e-2, atol: 1e-3)); // the same values, to bf16's precision
    }

    /// <summary>A marked input goes into the products as it is, forward and in the weight's gradient: shown with a marked
    /// tensor whose values are not bf16 values (which no layer makes), against libtorch over those operands.</summary>
    [Fact]
    public void KernelLinearTakesAMarkedInputAsItIs()
    {
        var generator = new Generator(7);
        using var x0 = randn([2, 37, 48], generator: generator);
        using var w0 = randn([13, 48], generator: generator);
        using var r = randn([2, 37, 13], generator: generator);
        if (!KernelLinear.Applies(x0, w0, 74)) return;
        var x = Bf16Operands.MarkRounded(x0.detach().requires_grad_(true));
        var w = w0.detach().requires_grad_(true);
        var y = KernelLinear.Apply(x, w, bf16: true);
        (y * r).sum().backward();
        static Tensor Rounded(Tensor t) => t.to(ScalarType.BFloat16).to(ScalarType.Float32);
        using var wr = Rounded(w0);
        using var rr = Rounded(r);
        Assert.True(y.allclose(F.linear(x0, wr), rtol: 1e-5, atol: 1e-4));
        Assert.True(w.grad!.allclose(rr.reshape(-1, 13).t().matmul(x0.reshape(-1, 48)), rtol: 1e-5, atol: 1e-3));
        Assert.True(x.grad!.allclose(rr.matmul(wr), rtol: 1e-5, atol: 1e-4));
    }

    [Fact]
    public void AProjectionWithAnAdapterDoesNotLetItsInputBeRounded()
    {
        using var model = TestModels.Tiny(seed: 8);
        model.SetComputeType(ScalarType.BFloat16, bf16OnKernels: true);
        var attention = model.model.layers[0].self_attn;
        Assert.True(attention.RoundsInputToBf16);
        Lora.Apply(model, new LoraOptions { TargetModules = ["v_proj"] }, seed: 1);
        Assert.False(attention.v_proj.RoundsInputToBf16);
        Assert.False(attention.RoundsInputToBf16);
        Assert.True(model.model.layers[0].mlp.RoundsInputToBf16);
    }
}
