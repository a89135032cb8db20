namespace SharpLM.Generation;

/// <summary>
/// The sampling settings a caller gives, each null where it leaves the default: the one mapping onto
/// <see cref="SamplingOptions"/> that the command line, the HTTP server and the IChatClient share, with one set of
/// range checks. Each source fills one (the flags, the request body, <c>ChatOptions</c>) and <see cref="ApplyTo"/>
/// lays it over the defaults, which always start as the model's generation_config.json
/// (<see cref="GenerationConfig.ToSamplingOptions"/>); for the server, the command line's settings are laid over those
/// first, by this same mapping. Errors name the field as OpenAI's and vLLM's APIs spell it (<c>temperature</c>,
/// <c>top_p</c>, <c>max_tokens</c>...), see <see cref="SamplingFieldException"/>.
/// </summary>
public sealed record SamplingRequest
{
    public int? MaxTokens { get; init; }

    public float? Temperature { get; init; }

    public float? TopP { get; init; }

    public int? TopK { get; init; }

    public float? MinP { get; init; }

    public float? RepetitionPenalty { get; init; }

    public int? RepetitionPenaltyRange { get; init; }

    public RepetitionPenaltyMode? RepetitionPenaltyMode { get; init; }

    /// <summary>64 bits, as OpenAI's API and Microsoft.Extensions.AI carry it; see <see cref="SamplingOptions.FoldSeed"/>.</summary>
    public long? Seed { get; init; }

    /// <summary>Stop strings added to the defaults' (empty ones are dropped).</summary>
    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary>Keep generating past the end token.</summary>
    public bool? IgnoreEos { get; init; }

    /// <summary><paramref name="defaults"/> with the settings given here, each checked.</summary>
    public SamplingOptions ApplyTo(SamplingOptions defaults)
    {
        Check(MaxTokens is null or >= 1, "max_tokens", $"must be at least 1, got {MaxTokens}");
        // A float that overflowed (1e39 in a request) is infinite: not a temperature or a penalty.
        Check(Temperature is null || Temperature >= 0 && float.IsFinite(Temperature.Value), "temperature",
            $"must be >= 0 (0 = greedy), got {Temperature}");
        Check(TopP is null or > 0 and <= 1, "top_p", $"must be in (0, 1], got {TopP}");
        Check(TopK is null or >= 0, "top_k", $"must be >= 0 (0 disables it), got {TopK}");
        Check(MinP is null or >= 0 and <= 1, "min_p", $"must be in [0, 1], got {MinP}");
        Check(RepetitionPenalty is null || RepetitionPenalty > 0 && float.IsFinite(RepetitionPenalty.Value), "repetition_penalty",
            $"must be positive, got {RepetitionPenalty}");
        Check(RepetitionPenaltyRange is null or >= 0, "repetition_penalty_range", $"must be >= 0 (0 = all tokens), got {RepetitionPenaltyRange}");
        var options = defaults with
        {
            MaxNewTokens = MaxTokens ?? defaults.MaxNewTokens,
            Temperature = Temperature ?? defaults.Temperature,
            TopP = TopP ?? defaults.TopP,
            TopK = TopK ?? defaults.TopK,
            MinP = MinP ?? defaults.MinP,
            RepetitionPenalty = RepetitionPenalty ?? defaults.RepetitionPenalty,
            RepetitionPenaltyRange = RepetitionPenaltyRange ?? defaults.RepetitionPenaltyRange,
            RepetitionPenaltyMode = RepetitionPenaltyMode ?? defaults.RepetitionPenaltyMode,
            Seed = Seed is { } seed ? SamplingOptions.FoldSeed(seed) : defaults.Seed,
            StopStrings = [.. defaults.StopStrings, .. (Stop ?? []).Where(s => s.Length > 0)],
            StopAtEos = IgnoreEos is { } ignore ? !ignore : defaults.StopAtEos,
        };
        options.BuildProcessors(); // the defaults (a generation_config.json) are checked too
        return options;
    }

    static void Check(bool valid, string field, string problem)
    {
        if (!valid) throw new SamplingFieldException(field, $"{field} {problem}");
    }
}

/// <summary>A sampling setting out of range; <see cref="Field"/> names it (e.g. <c>top_p</c>).</summary>
public sealed class SamplingFieldException(string name, string message) : SharpLMException(message)
{
    public string Field => name;
}
