namespace SharpLM.Generation;

/// <summary>Divides logits by the temperature: below 1 sharpens the distribution, above 1 flattens it.</summary>
public sealed class TemperatureProcessor : ILogitProcessor
{
    public TemperatureProcessor(float temperature)
    {
        if (!(temperature > 0) || float.IsInfinity(temperature))
            throw new SharpLMException($"temperature must be a positive number, got {temperature} (use greedy decoding for temperature 0)");
        Temperature = temperature;
    }

    public float Temperature { get; }

    public void Process(Span<float> logits, ReadOnlySpan<int> context)
    {
        if (Temperature == 1f) return;
        foreach (ref var l in logits) l /= Temperature;
    }
}
