using SharpLM.Data;
using SharpLM.Model;
using SharpLM.Runtime;
using static TorchSharp.torch;

namespace SharpLM.Evaluation;

/// <summary>Mean next-token loss and perplexity of a model on a data set, weighted per target token.</summary>
public sealed record LossReport(double MeanLoss, long TargetTokens)
{
    public double Perplexity => Math.Exp(MeanLoss);
}

public static class LossEvaluator
{
    /// <param name="maxExamples">evaluate only the first examples (0 = all), for quick periodic checks</param>
    /// <param name="group">processes that share the work: each evaluates its slice and the sums are added up</param>
    public static LossReport Evaluate(LlamaForCausalLM model, ITrainingData data, int batchSize, int maxExamples = 0,
        Action<int, int>? progress = null, ProcessGroup? group = null)
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
            double total = 0;
            long targets = 0;
            int first = (int)((long)count * group.Rank / group.Size), end = (int)((long)count * (group.Rank + 1) / group.Size);
            for (int start = first; start < end; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var indices = Enumerable.Range(start, Math.Min(batchSize, end - start)).ToArray();
                using var batch = data.Collate(indices);
                total += LanguageModelLoss.Sum(model, batch).item<float>();
                targets += batch.TargetTokens;
                progress?.Invoke(start + indices.Length - first, end - first);
            }
            Span<double> sums = [total, targets];
            group.AllReduceSum(sums);
            (total, targets) = (sums[0], (long)sums[1]);
            if (targets == 0) throw new SharpLMException("the evaluation data has no target tokens");
            return new LossReport(total / targets, targets);
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
