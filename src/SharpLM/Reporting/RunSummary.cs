namespace SharpLM.Reporting;

/// <summary>A run in a few numbers: how far it went, where its losses ended, how fast it ran.</summary>
public sealed record RunSummary(
    long Steps, double? FinalLoss, double? BestValidLoss, long? BestValidStep, double? MedianTokensPerSecond, double? WallSeconds)
{
    public static RunSummary Of(RunHistory history)
    {
        var last = history.Train.Count > 0 ? history.Train.MaxBy(p => p.Step) : null;
        // The first of equal best losses: the step the run first got there.
        var best = history.Valid.Count > 0 ? history.Valid.MinBy(p => p.Loss) : null;
        var rates = history.Train.Where(p => p.TokensPerSecond is not null).Select(p => p.TokensPerSecond!.Value).Order().ToList();
        return new RunSummary(last?.Step ?? 0, last?.Loss, best?.Loss, best?.Step,
            rates.Count == 0 ? null : rates.Count % 2 == 1 ? rates[rates.Count / 2] : (rates[rates.Count / 2 - 1] + rates[rates.Count / 2]) / 2,
            TotalWallSeconds(history.Train));
    }

    /// <summary>elapsed_seconds counts from each start of the process, so a resumed run's clock starts over: the wall
    /// time is the sum of each stretch's last reading.</summary>
    static double? TotalWallSeconds(IReadOnlyList<TrainPoint> train)
    {
        double total = 0, previous = 0;
        bool any = false;
        foreach (var elapsed in train.Where(p => p.ElapsedSeconds is not null).Select(p => p.ElapsedSeconds!.Value))
        {
            if (elapsed < previous) total += previous;
            previous = elapsed;
            any = true;
        }
        return any ? total + previous : null;
    }
}
