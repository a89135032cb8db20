using SharpLM.Adapters;
using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using SharpLM.Training;
using Xunit;

namespace SharpLM.Tests.FineTuning;

/// <summary>End-to-end fine-tuning on a synthetic instruction task: "Repeat xyz" -> "xyz" over random three-letter
/// words. Held-out words are never trained on, so exact match can only rise by learning the task.</summary>
public class FineTuningTests
{
    static readonly TestByteTokenizer Tokenizer = new();

    static Conversation Example(string word) => new([
        new ChatMessage(ChatMessage.UserRole, $"Repeat {word}"),
        new ChatMessage(ChatMessage.AssistantRole, word),
    ]);

    static (List<string> Train, List<string> HeldOut) Words()
    {
        var rng = new Random(4);
        var all = Enumerable.Range(0, 400).Select(_ => new string(Enumerable.Range(0, 3).Select(_ => (char)('a' + rng.Next(8))).ToArray()))
            .Distinct().ToList();
        return (all.Skip(40).ToList(), all.Take(40).ToList());
    }

    static LlamaForCausalLM Model()
    {
        var config = new LlamaConfig
        {
            VocabSize = Tokenizer.VocabSize, MaxPositionEmbeddings = 64, HiddenSize = 64, IntermediateSize = 128,
            NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2,
        };
        var model = new LlamaForCausalLM(config);
        model.InitializeWeights(3);
        return model;
    }

    [Theory]
    [InlineData("full")]
    [InlineData("lora")]
    public void FineTuningLowersHeldOutLossAndRaisesExactMatch(string method)
    {
        var template = ChatTemplates.Default;
        var (train, heldOut) = Words();
        var options = new InstructionDatasetOptions { MaxLength = 48, PadId = 0 };
        var trainData = InstructionDataset.Build(train.Select(w => TemplatedExample.FromConversation(Example(w), template, Tokenizer)), options);
        var validData = InstructionDataset.Build(heldOut.Select(w => TemplatedExample.FromConversation(Example(w), template, Tokenizer)), options);
        var items = heldOut.Select(w => ExactMatchItem.FromConversation(Example(w), template, Tokenizer)).ToList();
        var stops = new HashSet<int> { Tokenizer.Special.Eos!.Value };

        using var model = Model();
        if (method == "lora")
        {
            // LoRA needs a base that already knows something: a short full pretraining on the task's format.
            using var pre = new Trainer(model, trainData, null,
                new TrainingOptions { BatchSize = 16, MaxSteps = 30, WarmupSteps = 5, LearningRate = 3e-3, WeightDecay = 0 });
            pre.Run();
        }
        if (method == "lora") Lora.Apply(model, new LoraOptions { Rank = 16, Alpha = 32, Dropout = 0 }, seed: 1);
        var lossBefore = LossEvaluator.Evaluate(model, validData, 16).MeanLoss;
        var emBefore = ExactMatch.Evaluate(model, Tokenizer, items, stops, template.StopStrings, 8).Rate;

        using var trainer = new Trainer(model, trainData, validData, new TrainingOptions
        {
            BatchSize = 16, MaxSteps = method == "lora" ? 250 : 300, WarmupSteps = 10, LearningRate = method == "lora" ? 1e-2 : 3e-3, WeightDecay = 0,
        });
        trainer.Run();

        var lossAfter = LossEvaluator.Evaluate(model, validData, 16).MeanLoss;
        var emAfter = ExactMatch.Evaluate(model, Tokenizer, items, stops, template.StopStrings, 8).Rate;
        var report = $"held-out loss {lossBefore:F3} -> {lossAfter:F3}, exact match {emBefore:P0} -> {emAfter:P0}";
        // Full fine-tuning learns the task outright; rank-16 adapters on a 64-wide model get part of the way.
        var (lossRatio, minimumMatch) = method == "full" ? (0.5, 0.5) : (0.9, 0.25);
        Assert.True(lossAfter < lossBefore * lossRatio, report);
        Assert.True(emAfter >= minimumMatch && emAfter > emBefore, report);
    }

    [Fact]
    public void AccumulationOverPaddedUnequalExamplesEqualsTheLargeBatch()
    {
        var template = ChatTemplates.Default;
        // Answers of very different lengths: padding and prompt masking leave different numbers of targets per example.
        var examples = Enumerable.Range(0, 8).Select(i => TemplatedExample.FromConversation(new Conversation([
            new ChatMessage(ChatMessage.UserRole, $"Question {i}"),
            new ChatMessage(ChatMessage.AssistantRole, new string((char)('a' + i), 1 + 5 * i)),
        ]), template, Tokenizer)).ToList();
        var data = InstructionDataset.Build(examples, new InstructionDatasetOptions { MaxLength = 64, PadId = 0 });
        var losses = new List<List<double>>();
        var models = new List<LlamaForCausalLM>();
        foreach (var micro in new[] { 8, 3, 1 })
        {
            var model = Model();
            var recorded = new List<double>();
            using var trainer = new Trainer(model, data, null,
                new TrainingOptions { BatchSize = 8, MicroBatchSize = micro, MaxSteps = 3, WarmupSteps = 1, LearningRate = 1e-2 });
            trainer.AddObserver(new Recorder(recorded));
            trainer.Run();
            losses.Add(recorded);
            models.Add(model);
        }
        for (int run = 1; run < 3; run++)
        {
            Assert.True(losses[0].Zip(losses[run]).All(p => Math.Abs(p.First - p.Second) < 1e-5), string.Join(" ", losses.SelectMany(l => l)));
            foreach (var ((name, a), (_, b)) in models[0].named_parameters().Zip(models[run].named_parameters()))
                Assert.True(TorchSharp.torch.allclose(a, b, rtol: 1e-4, atol: 1e-6), name);
        }
        foreach (var m in models) m.Dispose();
    }

    sealed class Recorder(List<double> losses) : ITrainingObserver
    {
        public void OnStep(StepMetrics step) => losses.Add(step.Loss);
    }
}
