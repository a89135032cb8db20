using TorchSharp.Modules;
using static TorchSharp.torch.utils;

namespace SharpLM.Training;

/// <summary>
/// TensorBoard event files in the run folder (TorchSharp's <c>SummaryWriter</c>): training loss, learning rate,
/// gradient norm and tokens/s every step, validation loss and perplexity, and samples as text, under the names
/// <see cref="MetricsRecord"/> gives them. `tensorboard --logdir runs` then shows each run folder as a run. Each start
/// or resume writes a new event file beside the earlier ones.
/// </summary>
public sealed class TensorBoardLog : ITrainingObserver
{
    /// <summary>How event files' names start.</summary>
    public const string FilePrefix = "events.out.tfevents.";

    readonly SummaryWriter writer;

    public TensorBoardLog(string runFolder) => writer = tensorboard.SummaryWriter(runFolder);

    public void OnStep(StepMetrics m) => Scalars("train", m.Step, MetricsRecord.Of(m), "loss", "lr", "grad_norm", "tokens_per_second");

    public void OnEvaluation(EvalMetrics e) => Scalars("valid", e.Step, MetricsRecord.Of(e), "loss", "perplexity");

    public void OnSample(SampleMetrics s) => writer.add_text($"sample/{s.Index + 1}", $"{s.Prompt} -> {s.Text}", Step(s.Step));

    void Scalars(string group, long step, IReadOnlyList<KeyValuePair<string, object>> record, params string[] names)
    {
        foreach (var (name, value) in record.Where(f => names.Contains(f.Key)))
            writer.add_scalar($"{group}/{name}", (float)Convert.ToDouble(value), Step(step));
    }

    /// <summary>SummaryWriter takes an int step; a run of more steps would be years long on any machine SharpLM trains on.</summary>
    static int Step(long step) => (int)Math.Min(step, int.MaxValue);
}
