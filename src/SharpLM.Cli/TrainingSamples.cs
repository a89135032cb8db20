using SharpLM.Training;

namespace SharpLM.Cli;

/// <summary>
/// `--sample-every N`: every N steps the model writes from each prompt and the trainer passes the texts to its observers
/// (the progress display prints them, metrics.jsonl and TensorBoard keep them). The model writes in evaluation mode: no
/// dropout or embedding noise, and no draw from the random numbers training uses, so sampling leaves the run as it was.
/// </summary>
sealed class TrainingSamples(Trainer trainer, long every, IReadOnlyList<string> prompts, Func<string, string> write) : ITrainingObserver
{
    public void OnStep(StepMetrics m)
    {
        if (every <= 0 || m.Step % every != 0) return;
        var model = trainer.Model;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            for (int i = 0; i < prompts.Count; i++) trainer.ReportSample(new SampleMetrics(m.Step, i, prompts[i], write(prompts[i])));
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
