using System.CommandLine;
using SharpLM.Training;

namespace SharpLM.Cli;

/// <summary>How `pretrain` and `finetune` let a run be watched beyond the progress display: metrics.jsonl always,
/// `--report-to tensorboard csv` for TensorBoard event files and metrics.csv, and `--sample-every N` for the model's
/// writing as it trains. Only the main rank writes them.</summary>
sealed class ReportArguments
{
    public const string TensorBoard = "tensorboard", Csv = "csv";

    readonly Option<string[]> reportTo = new("--report-to")
    {
        Description = $"Also log to: {TensorBoard} (event files in --output: `tensorboard --logdir` its parent), {Csv} (metrics.csv); " +
                      "several allowed. metrics.jsonl is always written.",
        AllowMultipleArgumentsPerToken = true,
    };
    readonly Option<long> sampleEvery = new("--sample-every")
    {
        Description = "Every N steps, print and log what the model writes from each --sample-prompt (without one, from the start " +
                      "of the first validation, else training, example); 0 = never.",
    };

    public ReportArguments() => reportTo.AcceptOnlyFromAmong(TensorBoard, Csv);

    public void AddTo(Command command)
    {
        command.Options.Add(reportTo);
        command.Options.Add(sampleEvery);
    }

    public long SampleEvery(ParseResult p) => p.GetValue(sampleEvery);

    /// <summary>Opens the run's logs in <paramref name="folder"/> (on the main rank) and adds them to the trainer's
    /// observers; disposing closes them.</summary>
    public IDisposable Open(ParseResult parse, string folder, Trainer trainer)
    {
        if (!Distributed.IsMain) return new Logs([]);
        long resumedFrom = trainer.State.Step;
        var targets = parse.GetValue(reportTo) ?? [];
        List<ITrainingObserver> logs = [new MetricsLog(folder, resumedFrom)];
        if (targets.Contains(Csv)) logs.Add(new CsvMetricsLog(folder, resumedFrom));
        if (targets.Contains(TensorBoard)) logs.Add(new TensorBoardLog(folder, resumedFrom));
        foreach (var log in logs) trainer.AddObserver(log);
        return new Logs(logs);
    }

    sealed class Logs(List<ITrainingObserver> logs) : IDisposable
    {
        public void Dispose()
        {
            foreach (var log in logs.OfType<IDisposable>()) log.Dispose();
        }
    }
}
