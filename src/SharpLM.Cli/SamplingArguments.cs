using System.CommandLine;
using SharpLM.Generation;

namespace SharpLM.Cli;

/// <summary>Sampling options shared by `generate` and `chat`. An option left out takes the model's
/// generation_config.json value (the tutorial's defaults when it has none).</summary>
sealed class SamplingArguments
{
    readonly Option<int?> maxTokens = new("--max-tokens")
    {
        Description = "Most tokens to generate (default: the model's generation_config.json, else 100).",
    };
    readonly Option<float?> temperature = new("--temperature")
    {
        Description = "Divide logits by this (0 = greedy; default: generation_config.json, else 1.0).",
    };
    readonly Option<float?> repetitionPenalty = new("--repetition-penalty")
    {
        Description = "Penalise recent tokens: positive logits / p, others x p (default: generation_config.json, else 1.0 = off).",
    };
    readonly Option<int?> repetitionRange = new("--repetition-penalty-range")
    {
        Description = "How many recent tokens the penalty looks at (0 = all; default: generation_config.json, else 10).",
    };
    readonly Option<RepetitionPenaltyMode> penaltyMode = new("--penalty-mode")
    {
        Description = "PerOccurrence: a token seen n times is penalised n times (the tutorial's). Distinct: once per token (Hugging Face's).",
        DefaultValueFactory = _ => RepetitionPenaltyMode.PerOccurrence,
    };
    readonly Option<int?> topK = new("--top-k")
    {
        Description = "Sample among the k most likely tokens (0 = off; default: generation_config.json, else 50).",
    };
    readonly Option<float?> topP = new("--top-p")
    {
        Description = "Sample among the most likely tokens that cover this probability (default: generation_config.json, else 1.0 = off).",
    };
    readonly Option<float?> minP = new("--min-p")
    {
        Description = "Drop tokens less likely than this fraction of the most likely one (default 0 = off).",
    };
    readonly Option<bool> greedy = new("--greedy") { Description = "Always take the most likely token (same as --temperature 0)." };
    readonly Option<int?> seed = new("--seed") { Description = "Seed for reproducible sampling." };
    readonly Option<string[]> stop = new("--stop")
    {
        Description = "Stop when this text appears (repeatable).",
        AllowMultipleArgumentsPerToken = false,
    };
    readonly Option<bool> ignoreEos = new("--ignore-eos") { Description = "Keep going past the end token." };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { maxTokens, temperature, repetitionPenalty, repetitionRange, penaltyMode, topK, topP, minP, greedy,
                                         seed, stop, ignoreEos })
            command.Options.Add(o);
    }

    /// <summary>The options given, over the model's generation_config.json, checked before the model loads (see
    /// <see cref="SamplingRequest"/>: the server and the IChatClient map their fields the same way).</summary>
    public SamplingOptions Read(ParseResult p, GenerationConfig defaults) => new SamplingRequest
    {
        MaxTokens = p.GetValue(maxTokens),
        Temperature = p.GetValue(greedy) ? 0 : p.GetValue(temperature),
        RepetitionPenalty = p.GetValue(repetitionPenalty),
        RepetitionPenaltyRange = p.GetValue(repetitionRange),
        RepetitionPenaltyMode = p.GetValue(penaltyMode),
        TopK = p.GetValue(topK),
        TopP = p.GetValue(topP),
        MinP = p.GetValue(minP),
        Seed = p.GetValue(seed),
        Stop = p.GetValue(stop),
        IgnoreEos = p.GetValue(ignoreEos) ? true : null,
    }.ApplyTo(defaults.ToSamplingOptions());
}
