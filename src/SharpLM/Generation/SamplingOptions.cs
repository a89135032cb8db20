namespace SharpLM.Generation;

/// <summary>
/// How the next token is chosen. Defaults are the tutorial's generate(): 100 tokens, temperature 1.0,
/// repetition penalty 1.0 over the last 10 tokens (per occurrence), top-k 50.
/// </summary>
public sealed record SamplingOptions
{
    public int MaxNewTokens { get; init; } = 100;

    /// <summary>0 = greedy (argmax after the penalty); otherwise logits are divided by it.</summary>
    public float Temperature { get; init; } = 1.0f;

    public float RepetitionPenalty { get; init; } = 1.0f;

    /// <summary>How many of the latest tokens the penalty looks at (0 = all).</summary>
    public int RepetitionPenaltyRange { get; init; } = 10;

    public RepetitionPenaltyMode RepetitionPenaltyMode { get; init; } = RepetitionPenaltyMode.PerOccurrence;

    /// <summary>0 disables top-k.</summary>
    public int TopK { get; init; } = 50;

    /// <summary>1 disables top-p.</summary>
    public float TopP { get; init; } = 1.0f;

    /// <summary>0 disables min-p.</summary>
    public float MinP { get; init; }

    /// <summary>Seed of the sampling random numbers; null = a fresh random seed.</summary>
    public int? Seed { get; init; }

    /// <summary>Text that ends generation when it appears in the output (not included in it).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Stop at the tokenizer's end token (and the config's eos ids).</summary>
    public bool StopAtEos { get; init; } = true;

    public static SamplingOptions Greedy => new() { Temperature = 0, TopK = 0 };

    /// <summary>A 64-bit seed (what OpenAI's API and Microsoft.Extensions.AI carry) as this sampler's 32 bits, both
    /// halves folded in.</summary>
    public static int FoldSeed(long seed) => unchecked((int)seed ^ (int)(seed >> 32));

    public bool IsGreedy => Temperature == 0;

    /// <summary>The processors in the tutorial's order: temperature, repetition penalty, top-k, then top-p and min-p.</summary>
    public IReadOnlyList<ILogitProcessor> BuildProcessors()
    {
        if (MaxNewTokens < 0) throw new SharpLMException($"max new tokens must be >= 0, got {MaxNewTokens}");
        if (Temperature < 0) throw new SharpLMException($"temperature must be >= 0, got {Temperature}");
        var list = new List<ILogitProcessor>();
        if (!IsGreedy) list.Add(new TemperatureProcessor(Temperature));
        list.Add(new RepetitionPenaltyProcessor(RepetitionPenalty, RepetitionPenaltyRange, RepetitionPenaltyMode));
        if (!IsGreedy)
        {
            list.Add(new TopKProcessor(TopK));
            list.Add(new TopPProcessor(TopP));
            list.Add(new MinPProcessor(MinP));
        }
        return list;
    }
}
