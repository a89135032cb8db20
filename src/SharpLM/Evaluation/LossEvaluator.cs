using SharpLM.Data;
using SharpLM.Model;
using SharpLM.Runtime;

namespace SharpLM.Evaluation;

/// <summary>Mean next-token loss and perplexity of a model on a data set, weighted per target token.</summary>
public sealed record LossReport(double MeanLoss, long TargetTokens)
{
    public double Perplexity => Math.Exp(MeanLoss);
}

/// <summary>Next-token loss of a model on a data set: <see cref="ObjectiveEvaluator"/> with <see cref="LanguageModelObjective"/>.</summary>
public static class LossEvaluator
{
    /// <param name="maxExamples">evaluate only the first examples (0 = all), for quick periodic checks</param>
    /// <param name="group">processes that share the work: each evaluates its slice and the sums are added up</param>
    public static LossReport Evaluate(LlamaForCausalLM model, ITrainingData data, int batchSize, int maxExamples = 0,
        Action<int, int>? progress = null, ProcessGroup? group = null)
    {
        var report = ObjectiveEvaluator.Evaluate(model, LanguageModelObjective.Instance, data, batchSize, maxExamples, group, progress);
        return new LossReport(report.MeanLoss, report.Units);
    }
}
