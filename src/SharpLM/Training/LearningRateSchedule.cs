namespace SharpLM.Training;

/// <summary>
/// The tutorial's schedule: linear warm-up from <c>WarmupStartFactor * PeakLr</c> to the peak over
/// <c>WarmupSteps</c>, then cosine decay to <c>MinLr</c> at <c>TotalSteps</c>. A pure function of the step, so a
/// resumed run continues on exactly the same curve.
/// </summary>
public sealed record LearningRateSchedule(double PeakLr, long WarmupSteps, long TotalSteps, double WarmupStartFactor = 0.1, double MinLr = 0)
{
    /// <summary>Learning rate for the update with 0-based index <paramref name="step"/>.</summary>
    public double At(long step)
    {
        if (step < WarmupSteps)
            return PeakLr * (WarmupStartFactor + (1 - WarmupStartFactor) * step / WarmupSteps);
        long decaySteps = TotalSteps - WarmupSteps;
        if (decaySteps <= 0) return PeakLr;
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / decaySteps);
        return MinLr + (PeakLr - MinLr) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
