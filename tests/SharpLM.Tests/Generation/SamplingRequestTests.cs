using SharpLM.Generation;
using Xunit;

namespace SharpLM.Tests.Generation;

/// <summary>The one mapping of sampling settings that the command line, the server and the IChatClient share.</summary>
public class SamplingRequestTests
{
    static readonly SamplingOptions Defaults = new() { Temperature = 0.7f, TopK = 40, StopStrings = ["</s>"], Seed = 1 };

    [Fact]
    public void GivenSettingsReplaceTheDefaultsAndTheRestAreKept()
    {
        Assert.Equal(Defaults with { StopStrings = Defaults.StopStrings },
            new SamplingRequest().ApplyTo(Defaults) with { StopStrings = Defaults.StopStrings });
        var options = new SamplingRequest
        {
            MaxTokens = 7, Temperature = 0, TopP = 0.5f, TopK = 3, MinP = 0.1f, RepetitionPenalty = 1.2f, RepetitionPenaltyRange = 0,
            RepetitionPenaltyMode = RepetitionPenaltyMode.Distinct, Seed = 5L << 32 | 3, Stop = ["x", ""], IgnoreEos = true,
        }.ApplyTo(Defaults);
        Assert.Equal((7, 0f, 0.5f, 3, 0.1f, 1.2f, 0, RepetitionPenaltyMode.Distinct),
            (options.MaxNewTokens, options.Temperature, options.TopP, options.TopK, options.MinP, options.RepetitionPenalty,
                options.RepetitionPenaltyRange, options.RepetitionPenaltyMode));
        Assert.Equal(SamplingOptions.FoldSeed(5L << 32 | 3), options.Seed);
        Assert.Equal(["</s>", "x"], options.StopStrings);
        Assert.False(options.StopAtEos);
        Assert.True(new SamplingRequest { IgnoreEos = false }.ApplyTo(Defaults with { StopAtEos = false }).StopAtEos);
    }

    [Theory]
    [InlineData("max_tokens", "max_tokens must be at least 1, got 0")]
    [InlineData("temperature", "temperature must be >= 0 (0 = greedy), got -1")]
    [InlineData("top_p", "top_p must be in (0, 1], got 0")]
    [InlineData("top_k", "top_k must be >= 0 (0 disables it), got -1")]
    [InlineData("min_p", "min_p must be in [0, 1], got 2")]
    [InlineData("repetition_penalty", "repetition_penalty must be positive, got 0")]
    [InlineData("repetition_penalty_range", "repetition_penalty_range must be >= 0 (0 = all tokens), got -1")]
    public void OutOfRangeValuesAreRefusedNamingTheField(string field, string message)
    {
        var request = field switch
        {
            "max_tokens" => new SamplingRequest { MaxTokens = 0 },
            "temperature" => new SamplingRequest { Temperature = -1 },
            "top_p" => new SamplingRequest { TopP = 0 },
            "top_k" => new SamplingRequest { TopK = -1 },
            "min_p" => new SamplingRequest { MinP = 2 },
            "repetition_penalty" => new SamplingRequest { RepetitionPenalty = 0 },
            _ => new SamplingRequest { RepetitionPenaltyRange = -1 },
        };
        var e = Assert.Throws<SamplingFieldException>(() => request.ApplyTo(Defaults));
        Assert.Equal((field, message), (e.Field, e.Message));
    }

    [Fact]
    public void AnInfiniteTemperatureOrPenaltyIsRefused()
    {
        // What a float field of a request becomes when the number is too large for a float (1e39).
        Assert.Equal("temperature",
            Assert.Throws<SamplingFieldException>(() => new SamplingRequest { Temperature = float.PositiveInfinity }.ApplyTo(Defaults)).Field);
        Assert.Equal("repetition_penalty",
            Assert.Throws<SamplingFieldException>(() => new SamplingRequest { RepetitionPenalty = float.PositiveInfinity }.ApplyTo(Defaults)).Field);
    }
}
