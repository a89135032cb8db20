namespace SharpLM.Reporting;

/// <summary>TensorBoard's smoothing of a noisy curve: an exponential moving average, debiased so that the first
/// points are not pulled towards zero.</summary>
public static class ExponentialSmoothing
{
    /// <param name="weight">0 leaves the values as they are; towards 1, smoother</param>
    public static double[] Smooth(IReadOnlyList<double> values, double weight)
    {
        if (weight is < 0 or >= 1) throw new SharpLMException($"Smoothing weight {weight} is not in [0, 1)");
        var smoothed = new double[values.Count];
        double average = 0, correction = 1;
        for (int i = 0; i < values.Count; i++)
        {
            average = weight * average + (1 - weight) * values[i];
            correction *= weight;
            smoothed[i] = average / (1 - correction);
        }
        return smoothed;
    }
}
