using SharpLM.Data;
using SharpLM.Model;
using SharpLM.Runtime;
using static TorchSharp.torch;

namespace SharpLM.Evaluation;

/// <summary>An objective's mean loss and metrics on a data set, as the trainer's validation reports them.</summary>
/// <param name="Units">what the means are over: target tokens, pairs (<see cref="ITrainingObjective.Unit"/>)</param>
public sealed record ObjectiveReport(double MeanLoss, long Units, IReadOnlyDictionary<string, double> Metrics);

public static class ObjectiveEvaluator
{
    /// <param name="maxExamples">evaluate only the first examples (0 = all), for quick periodic checks</param>
    /// <param name="group">processes that share the work: each evaluates its slice and the sums are added up</param>
    /// <param name="progress">(examples done, examples) of this process's slice</param>
    public static ObjectiveReport Evaluate(LlamaForCausalLM model, ITrainingObjective objective, ITrainingData data, int batchSize,
        int maxExamples = 0, ProcessGroup? group = null, Action<int, int>? progress = null)
    {
        group ??= ProcessGroup.Single;
        if (batchSize < 1) throw new SharpLMException($"batch size must be at least 1, got {batchSize}");
        int count = maxExamples > 0 ? Math.Min(maxExamples, data.Count) : data.Count;
        if (count == 0) throw new SharpLMException("there is nothing to evaluate: the data set is empty");
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            var sums = new double[2 + objective.MetricNames.Count]; // loss, units, metrics
            var metricSums = new double[objective.MetricNames.Count];
            int first = (int)((long)count * group.Rank / group.Size), end = (int)((long)count * (group.Rank + 1) / group.Size);
            for (int start = first; start < end; start += batchSize)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(batchSize, end - start);
                using var batch = data.Collate(Enumerable.Range(start, n).ToArray()).To(model.Device);
                var loss = objective.Loss(model, batch, metricSums);
                sums[0] += loss(model.model.forward(batch.InputIds, batch.ForwardOptions)).item<float>();
                sums[1] += objective.Units(batch);
                progress?.Invoke(start + n - first, end - first);
            }
            metricSums.CopyTo(sums, 2);
            group.AllReduceSum(sums);
            if (sums[1] == 0) throw new SharpLMException($"the evaluation data has no {objective.Unit}");
            var metrics = objective.MetricNames.Select((name, i) => (name, sums[2 + i] / sums[1])).ToDictionary();
            return new ObjectiveReport(sums[0] / sums[1], (long)sums[1], metrics);
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
