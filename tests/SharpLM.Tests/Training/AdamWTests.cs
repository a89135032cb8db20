using SharpLM.Training;
using Parameter = TorchSharp.Modules.Parameter;
using AdamW = SharpLM.Training.AdamW;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Training;

public class AdamWTests
{
    [Theory]
    [InlineData(5, 4)]
    [InlineData(37, 29)] // 1,073 values: split between two threads, each with whole vectors and a tail
    public void MatchesTorchAdamWStepForStep(int rows, int columns)
    {
        manual_seed(3);
        var init = randn(rows, columns);
        var mine = new Parameter(init.clone());
        var reference = new Parameter(init.clone());
        var noDecay = new Parameter(init.clone());
        var noDecayRef = new Parameter(init.clone());
        using var opt = new AdamW([new("w", mine, true), new("n", noDecay, false)], new AdamW.Options(0.9, 0.99, 1e-8, 0.1));
        var torchOpt = optim.AdamW([reference], lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1);
        var torchNoDecay = optim.AdamW([noDecayRef], lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0);
        for (int step = 0; step < 5; step++)
        {
            var target = randn(rows, columns);
            foreach (var p in new[] { mine, reference, noDecay, noDecayRef })
                (p - target).square().sum().backward();
            opt.Update(0.01);
            torchOpt.step();
            torchNoDecay.step();
            opt.ZeroGrad();
            torchOpt.zero_grad();
            torchNoDecay.zero_grad();
        }
        Assert.True(allclose(mine, reference, rtol: 1e-5, atol: 1e-7));
        Assert.True(allclose(noDecay, noDecayRef, rtol: 1e-5, atol: 1e-7));
        Assert.Equal(5, opt.Step);
    }

    [Fact]
    public void StateRoundTripsAndRejectsForeignNames()
    {
        var p = new Parameter(ones(3));
        using var opt = new AdamW([new("w", p, true)], new AdamW.Options());
        p.sum().backward();
        opt.Update(0.1);
        var saved = opt.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var again = new AdamW([new("w", p, true)], new AdamW.Options());
        again.LoadState(opt.Step, saved, "test");
        Assert.Equal(1, again.Step);
        Assert.True(allclose(saved["exp_avg.w"], again.StateTensors()["exp_avg.w"]));
        using var other = new AdamW([new("v", p, true)], new AdamW.Options());
        var e = Assert.Throws<SharpLMException>(() => other.LoadState(1, saved, "ckpt"));
        Assert.Contains("\"w\"", e.Message);
    }
}
