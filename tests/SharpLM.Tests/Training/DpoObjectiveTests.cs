using SharpLM.Adapters;
using SharpLM.Data;
using SharpLM.Model;
using SharpLM.Training;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Training;

/// <summary>
/// The DPO loss and its gradient against an independent computation: per-token log-softmax summed by hand in plain
/// doubles, TRL's formulas for the loss and its derivative written out by hand, and the chain rule back to the
/// parameters. Then the limits that must hold: with beta -> 0 the gradients vanish, and swapping chosen and rejected
/// flips the margins and (where the policy is the reference) the gradients.
/// </summary>
public sealed class DpoObjectiveTests
{
    const int Vocab = 64;

    /// <summary>Three pairs of different lengths over random ids, completions marked.</summary>
    internal static PreferenceDataset Pairs(bool swapped = false, int count = 3)
    {
        var rng = new Random(3);
        int[] Ids(int n) => [.. Enumerable.Range(0, n).Select(_ => rng.Next(4, Vocab))];
        TemplatedExample Side(int[] prompt, int completion) =>
            new([.. prompt, .. Ids(completion)], [.. Enumerable.Repeat(false, prompt.Length), .. Enumerable.Repeat(true, completion)]);
        var pairs = Enumerable.Range(0, count).Select(i =>
        {
            var prompt = Ids(3 + i);
            var (chosen, rejected) = (Side(prompt, 2 + i % 2), Side(prompt, 4 - i % 3));
            return swapped ? new PreferencePair(rejected, chosen) : new PreferencePair(chosen, rejected);
        });
        return PreferenceDataset.Build(pairs, new InstructionDatasetOptions { MaxLength = 32, PadId = 0 });
    }

    static double[][][] Values(Tensor logits)
    {
        var flat = logits.detach().to(float64).data<double>().ToArray();
        int rows = (int)logits.shape[0], seq = (int)logits.shape[1];
        return [.. Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, seq)
            .Select(t => flat.AsSpan((r * seq + t) * Vocab, Vocab).ToArray()).ToArray())];
    }

    static double[] Softmax(double[] z)
    {
        double max = z.Max();
        var e = z.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return [.. e.Select(v => v / sum)];
    }

    /// <summary>Each row's summed log-probability of its targets, by hand.</summary>
    static double[] RowLogps(double[][][] logits, long[][] labels) =>
    [
        .. logits.Select((row, r) => row.Select((z, t) =>
        {
            if (labels[r][t] == TrainingBatch.IgnoreIndex) return 0.0;
            double max = z.Max();
            return z[labels[r][t]] - max - Math.Log(z.Sum(v => Math.Exp(v - max)));
        }).Sum()),
    ];

    static double LogSigmoid(double x) => x >= 0 ? -Math.Log(1 + Math.Exp(-x)) : x - Math.Log(1 + Math.Exp(x));
    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    static long[][] Labels(TrainingBatch batch) =>
        [.. Enumerable.Range(0, (int)batch.Labels.shape[0]).Select(r => batch.Labels[r].data<long>().ToArray())];

    static Dictionary<string, Tensor> Gradients(LlamaForCausalLM model) =>
        model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone());

    static double MaxAbs(IEnumerable<Tensor> tensors) => tensors.Max(t => t.abs().max().item<float>());

    [Theory]
    [InlineData(PreferenceLoss.Sigmoid, 0.0)]
    [InlineData(PreferenceLoss.Sigmoid, 0.3)]
    [InlineData(PreferenceLoss.Ipo, 0.0)]
    public void LossAndGradientMatchAHandComputedFormula(PreferenceLoss kind, double smoothing)
    {
        const double beta = 0.5;
        using var policy = TestModels.Tiny(seed: 1);
        using var start = TestModels.Tiny(seed: 2); // a reference unlike the policy, so the log-ratios are far from 0
        using var reference = ReferenceModel.FrozenCopy(start);
        var objective = new DpoObjective(new PreferenceOptions { Beta = beta, Loss = kind, LabelSmoothing = smoothing }, reference);
        using var batch = Pairs().Collate([0, 1, 2]);
        var sums = new double[DpoObjective.Metrics.Count];
        var lossOfLogits = objective.LossOfLogits(batch, sums);
        using var logits = policy.forward(batch.InputIds, batch.ForwardOptions).detach().requires_grad_(true);
        using var loss = lossOfLogits(logits) / 3;
        loss.backward();

        // By hand: log-probabilities, the loss of each pair and its derivative with respect to each row's log-probability.
        var labels = Labels(batch);
        var policyValues = Values(logits);
        var policyLogps = RowLogps(policyValues, labels);
        var referenceLogps = RowLogps(Values(start.forward(batch.InputIds, batch.ForwardOptions)), labels);
        int n = 3;
        double expectedLoss = 0;
        var dRow = new double[2 * n];
        for (int i = 0; i < n; i++)
        {
            double chosen = policyLogps[i] - referenceLogps[i], rejected = policyLogps[n + i] - referenceLogps[n + i];
            if (kind == PreferenceLoss.Ipo)
            {
                double chosenTokens = labels[i].Count(l => l != TrainingBatch.IgnoreIndex);
                double rejectedTokens = labels[n + i].Count(l => l != TrainingBatch.IgnoreIndex);
                double delta = chosen / chosenTokens - rejected / rejectedTokens - 1 / (2 * beta);
                expectedLoss += delta * delta / n;
                (dRow[i], dRow[n + i]) = (2 * delta / chosenTokens / n, -2 * delta / rejectedTokens / n);
            }
            else
            {
                double delta = chosen - rejected;
                expectedLoss += (-(1 - smoothing) * LogSigmoid(beta * delta) - smoothing * LogSigmoid(-beta * delta)) / n;
                double dDelta = (-(1 - smoothing) * beta * Sigmoid(-beta * delta) + smoothing * beta * Sigmoid(beta * delta)) / n;
                (dRow[i], dRow[n + i]) = (dDelta, -dDelta);
            }
        }
        Assert.Equal(expectedLoss, loss.item<float>(), 1e-5 * Math.Max(1, Math.Abs(expectedLoss)));

        // d logp / d logit[t, v] = onehot(label) - softmax: the loss's gradient with respect to every logit.
        var expectedGradient = new double[logits.numel()];
        int seq = (int)logits.shape[1];
        for (int r = 0; r < 2 * n; r++)
            for (int t = 0; t < seq; t++)
            {
                if (labels[r][t] == TrainingBatch.IgnoreIndex) continue;
                var p = Softmax(policyValues[r][t]);
                for (int v = 0; v < Vocab; v++)
                    expectedGradient[(r * seq + t) * Vocab + v] = dRow[r] * ((v == labels[r][t] ? 1 : 0) - p[v]);
            }
        var actualGradient = logits.grad!.to(float64).data<double>().ToArray();
        double scale = expectedGradient.Max(Math.Abs);
        Assert.True(scale > 1e-4, $"the gradient is too small to tell anything: {scale}");
        for (int i = 0; i < expectedGradient.Length; i++)
            Assert.True(Math.Abs(expectedGradient[i] - actualGradient[i]) <= 1e-5 * scale,
                $"logit {i}: {actualGradient[i]} instead of {expectedGradient[i]}");

        // TRL's metrics: means over the pairs of the rewards beta * log-ratio, their order and difference, and the logps.
        var chosenRewards = Enumerable.Range(0, n).Select(i => beta * (policyLogps[i] - referenceLogps[i])).ToArray();
        var rejectedRewards = Enumerable.Range(0, n).Select(i => beta * (policyLogps[n + i] - referenceLogps[n + i])).ToArray();
        double[] expectedMetrics =
        [
            chosenRewards.Average(), rejectedRewards.Average(), chosenRewards.Zip(rejectedRewards).Count(p => p.First > p.Second) / (double)n,
            chosenRewards.Zip(rejectedRewards).Average(p => p.First - p.Second), policyLogps[..n].Average(), policyLogps[n..].Average(),
        ];
        for (int i = 0; i < expectedMetrics.Length; i++)
            Assert.True(Math.Abs(expectedMetrics[i] - sums[i] / n) <= 1e-4 * Math.Max(1, Math.Abs(expectedMetrics[i])),
                $"{DpoObjective.Metrics[i]}: {sums[i] / n} instead of {expectedMetrics[i]}");

        // The chain rule back to the weights: the objective through the model gives what the hand gradient gives.
        using (var through = objective.Loss(policy, batch, new double[6])(policy.model.forward(batch.InputIds, batch.ForwardOptions)) / 3)
            through.backward();
        var viaObjective = Gradients(policy);
        foreach (var p in policy.parameters()) p.grad?.zero_();
        using var handGradient = tensor(expectedGradient).reshape(logits.shape).to(float32);
        policy.forward(batch.InputIds, batch.ForwardOptions).backward([handGradient]);
        var viaHand = Gradients(policy);
        double weightScale = MaxAbs(viaHand.Values);
        foreach (var (name, g) in viaHand)
            Assert.True((g - viaObjective[name]).abs().max().item<float>() <= 1e-4 * weightScale, $"{name} differs");
    }

    /// <summary>Parameter gradients of the mean loss of pairs 0..2.</summary>
    static Dictionary<string, Tensor> StepGradients(LlamaForCausalLM policy, ReferenceModel reference, PreferenceDataset data, double beta,
        out double[] metrics)
    {
        foreach (var p in policy.parameters()) p.grad?.zero_();
        using var batch = data.Collate([0, 1, 2]);
        metrics = new double[DpoObjective.Metrics.Count];
        var objective = new DpoObjective(new PreferenceOptions { Beta = beta }, reference);
        using (var loss = objective.Loss(policy, batch, metrics)(policy.model.forward(batch.InputIds, batch.ForwardOptions)) / 3)
            loss.backward();
        return Gradients(policy);
    }

    [Fact]
    public void AsBetaGoesToZeroTheGradientsVanish()
    {
        using var policy = TestModels.Tiny(seed: 1);
        using var start = TestModels.Tiny(seed: 2);
        using var reference = ReferenceModel.FrozenCopy(start);
        double usual = MaxAbs(StepGradients(policy, reference, Pairs(), 0.1, out _).Values);
        double tiny = MaxAbs(StepGradients(policy, reference, Pairs(), 1e-9, out _).Values);
        Assert.True(usual > 1e-4, $"beta 0.1 gives gradients up to {usual}");
        Assert.True(tiny < 1e-6 * usual, $"beta 1e-9 gives gradients up to {tiny}, against {usual} at beta 0.1");
    }

    [Fact]
    public void SwappingChosenAndRejectedFlipsTheMarginsAndTheGradient()
    {
        using var policy = TestModels.Tiny(seed: 1);
        using var start = TestModels.Tiny(seed: 2);
        using (var reference = ReferenceModel.FrozenCopy(start))
        {
            StepGradients(policy, reference, Pairs(), 0.1, out var metrics);
            StepGradients(policy, reference, Pairs(swapped: true), 0.1, out var swapped);
            Assert.Equal(metrics[3], -swapped[3], 1e-5); // margins
            Assert.Equal(metrics[0], swapped[1], 1e-5); // the rewards change places
            Assert.Equal(3 - metrics[2], swapped[2]); // accuracies: every pair's order reverses
            Assert.NotEqual(0, metrics[3], 1e-3);
        }

        // Where the policy is still the reference (the first step), swapping negates the gradient exactly.
        using var itself = ReferenceModel.FrozenCopy(policy);
        var forward = StepGradients(policy, itself, Pairs(), 0.1, out var atStart);
        var backward = StepGradients(policy, itself, Pairs(swapped: true), 0.1, out _);
        Assert.Equal(0, atStart[3], 1e-6);
        double scale = MaxAbs(forward.Values);
        Assert.True(scale > 1e-4);
        foreach (var (name, g) in forward)
            Assert.True((g + backward[name]).abs().max().item<float>() <= 1e-5 * scale, $"{name}: not negated");
    }

    [Fact]
    public void AFrozenCopyCopiesTheTrainedWeightsAndSharesTheFrozenOnes()
    {
        using var policy = TestModels.Tiny(seed: 1);
        Freeze.Apply(policy, new FreezeOptions { LastLayers = 1 });
        using var reference = ReferenceModel.FrozenCopy(policy);
        using var batch = Pairs().Collate([0, 1, 2]);
        var before = reference.Logps(batch).data<float>().ToArray();
        using (no_grad())
            foreach (var p in policy.model.layers[1].parameters()) p.add_(0.5); // trained: the copy keeps its own
        Assert.Equal(before, reference.Logps(batch).data<float>().ToArray());
        using (no_grad())
            policy.model.layers[0].mlp.down_proj.weight.mul_(2); // frozen: shared, so the reference sees it (training never does this)
        Assert.NotEqual(before, reference.Logps(batch).data<float>().ToArray());
        reference.Dispose(); // frees the copy, not the weights it shares
        Assert.True(policy.forward(batch.InputIds, batch.ForwardOptions).isfinite().all().item<bool>());
    }

    [Fact]
    public void UnderLoraTheReferenceIsTheBaseWithTheAdaptersOff()
    {
        using var policy = TestModels.Tiny(seed: 1);
        using var baseModel = TestModels.Tiny(seed: 1);
        Lora.Apply(policy, new LoraOptions { Rank = 2 }, seed: 5);
        using (no_grad())
            foreach (var (_, projection, adapter) in Lora.Adapters(policy)) adapter.B.weight.normal_(0, 0.5);
        using var batch = Pairs().Collate([0, 1, 2]);
        float[] Logps(LlamaForCausalLM model) =>
            DpoObjective.CompletionLogps(model.forward(batch.InputIds, batch.ForwardOptions), batch.Labels).data<float>().ToArray();
        var adapted = Logps(policy);
        using var reference = ReferenceModel.AdaptersOff(policy);
        var referenceLogps = reference.Logps(batch).data<float>().ToArray();
        Assert.Equal(Logps(baseModel), referenceLogps, (a, b) => Math.Abs(a - b) < 1e-4);
        Assert.NotEqual(adapted, referenceLogps, (a, b) => Math.Abs(a - b) < 1e-2);
        Assert.Equal(adapted, Logps(policy)); // the adapters are back on
    }
}
