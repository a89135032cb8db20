using SharpLM.Data;
using SharpLM.Training;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Training;

public class TrainerTests
{
    // Documents of different lengths, so padded rows hold different numbers of target tokens.
    static PretrainingDataset PaddedData(int docs = 8, int seqLen = 12)
    {
        var rng = new Random(5);
        var list = Enumerable.Range(0, docs).Select(i => Enumerable.Range(0, 2 + i % 7).Select(_ => rng.Next(4, 64)).ToArray());
        return PretrainingDataset.Build(list, seqLen, RowMode.Padded, bosId: 1, eosId: 2, padId: 0);
    }

    static TrainingOptions Quick(int batch, int micro = 0, long steps = 3) => new()
    {
        BatchSize = batch, MicroBatchSize = micro, MaxSteps = steps, WarmupSteps = 1, LearningRate = 1e-2,
    };

    [Fact]
    public void GradientAccumulationEqualsTheLargeBatch()
    {
        var data = PaddedData();
        using var big = TestModels.Tiny(seed: 4);
        using var accumulated = TestModels.Tiny(seed: 4);
        var bigLosses = new List<double>();
        var accLosses = new List<double>();
        using (var t = new Trainer(big, data, null, Quick(batch: 8)))
        {
            t.AddObserver(new Recorder(bigLosses));
            t.Run();
        }
        using (var t = new Trainer(accumulated, data, null, Quick(batch: 8, micro: 3)))
        {
            t.AddObserver(new Recorder(accLosses));
            t.Run();
        }
        Assert.Equal(3, bigLosses.Count);
        Assert.True(bigLosses.Zip(accLosses).All(p => Math.Abs(p.First - p.Second) < 1e-5), string.Join(" ", bigLosses.Concat(accLosses)));
        foreach (var ((name, a), (_, b)) in big.named_parameters().Zip(accumulated.named_parameters()))
            Assert.True(allclose(a, b, rtol: 1e-4, atol: 1e-6), name);
    }

    [Fact]
    public void TinyModelOverfitsAShortText()
    {
        var text = "the quick brown fox jumps over the lazy dog";
        var ids = text.Select(c => 4 + c % 60).ToArray();
        var data = PretrainingDataset.Build([ids], ids.Length + 1, RowMode.Padded, 1, 2, 0);
        using var model = TestModels.Tiny(seed: 2);
        var losses = new List<double>();
        using var trainer = new Trainer(model, data, null, new TrainingOptions
        {
            BatchSize = 1, MaxSteps = 150, WarmupSteps = 5, LearningRate = 1e-2, WeightDecay = 0,
        });
        trainer.AddObserver(new Recorder(losses));
        trainer.Run();
        Assert.True(losses[0] > 3.0, $"first loss {losses[0]}");
        Assert.True(losses[^1] < 0.05, $"final loss {losses[^1]}");
    }

    [Fact]
    public void PaddingIsNotTrainedOn()
    {
        var data = PretrainingDataset.Build([[10, 11]], 6, RowMode.Padded, 1, 2, 0);
        using var batch = data.Collate([0]);
        // Row: [BOT] 10 11 [EOT] [PAD] [PAD] [PAD] -> targets 10 11 [EOT] then ignored.
        Assert.Equal(new long[] { 1, 10, 11, 2, 0, 0 }, batch.InputIds.data<long>().ToArray());
        Assert.Equal(new long[] { 10, 11, 2, -100, -100, -100 }, batch.Labels.data<long>().ToArray());
        Assert.Equal(3, batch.TargetTokens);
    }

    [Fact]
    public void PackedRowsCoverEveryTokenOnceAsATarget()
    {
        var data = PretrainingDataset.Build([[10, 11, 12], [20, 21]], 4, RowMode.Packed, 1, 2, 0);
        // Stream: 1 10 11 12 2 1 20 21 2 (9 tokens) -> 2 rows of 5 overlapping by one.
        Assert.Equal(2, data.Count);
        Assert.Equal(new[] { 1, 10, 11, 12, 2 }, data.Row(0).ToArray());
        Assert.Equal(new[] { 2, 1, 20, 21, 2 }, data.Row(1).ToArray());
    }

    [Fact]
    public void WithoutABeginTokenDocumentsStartBareAndAnEndTokenThatDoublesAsPadIsTrainedWhenPacked()
    {
        // Qwen's tokenizer: no begin token, and <|endoftext|> is both end and pad.
        var packed = PretrainingDataset.Build([[10, 11, 12], [20, 21]], 3, RowMode.Packed, bosId: null, eosId: 2, padId: 2);
        Assert.Equal(new[] { 10, 11, 12, 2 }, packed.Row(0).ToArray());
        using (var batch = packed.Collate([0, 1]))
            Assert.Equal(new long[] { 11, 12, 2, 20, 21, 2 }, batch.Labels.data<long>().ToArray());

        var padded = PretrainingDataset.Build([[10, 11]], 4, RowMode.Padded, bosId: null, eosId: 2, padId: 0);
        using var row = padded.Collate([0]);
        Assert.Equal(new long[] { 10, 11, 2, 0 }, row.InputIds.data<long>().ToArray());
        Assert.Equal(new long[] { 11, 2, -100, -100 }, row.Labels.data<long>().ToArray());
    }

    [Fact]
    public void NaNLossStopsWithAClearErrorBeforeTheUpdate()
    {
        using var model = TestModels.Tiny();
        using (no_grad()) model.model.layers[0].mlp.up_proj.weight[0, 0] = float.NaN;
        var before = model.model.norm.weight.clone();
        using var trainer = new Trainer(model, PaddedData(), null, Quick(batch: 2));
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Contains("step 1", e.Message);
        Assert.Equal(0, trainer.State.Step);
        Assert.True(model.model.norm.weight.Equals(before));
    }

    sealed class Recorder(List<double> losses) : ITrainingObserver
    {
        public void OnStep(StepMetrics step) => losses.Add(step.Loss);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void OverlappedCommunicationIsRefusedWithCheckpointingOrShardedState(bool checkpointing, bool sharded)
    {
        var options = new TrainingOptions { OverlapCommunication = true, GradientCheckpointing = checkpointing, ShardOptimizer = sharded };
        var e = Assert.Throws<SharpLMException>(options.Validate);
        Assert.Contains("OverlapCommunication", e.Message);
        Assert.Contains(checkpointing ? "GradientCheckpointing" : "ShardOptimizer", e.Message);
        new TrainingOptions { OverlapCommunication = true }.Validate();
    }
}
