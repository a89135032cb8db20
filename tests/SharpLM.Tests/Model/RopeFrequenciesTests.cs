using SharpLM.Model;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Model;

public class RopeFrequenciesTests
{
    // Llama-3.2-1B's rotary settings (head_dim 64) on a tiny body.
    const string Llama32Scaling = """
        "rope_theta": 500000.0,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"}
        """;

    static LlamaConfig Config(string ropeFields, int hidden = 128, int heads = 2) => LlamaConfig.FromJson($$"""
        {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 32, "hidden_size": {{hidden}},
         "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": {{heads}}, "num_key_value_heads": 1,
         "max_position_embeddings": 64, {{ropeFields}}}
        """);

    /// <summary>The llama3 rule written out once more from its definition, in double precision.</summary>
    static double Llama3Expected(int i, int headDim, double theta, double factor, double low, double high, double original)
    {
        double frequency = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
        double wavelength = 2 * Math.PI / frequency;
        if (wavelength < original / high) return frequency;
        if (wavelength > original / low) return frequency / factor;
        double smooth = (original / wavelength - low) / (high - low);
        return (1 - smooth) * frequency / factor + smooth * frequency;
    }

    [Fact]
    public void Llama3RuleMatchesItsDefinitionInAllThreeBands()
    {
        var rope = Config(Llama32Scaling).Rope();
        Assert.Equal(RopeFrequencies.Llama3, rope.Type);
        using var actual = rope.InverseFrequencies(64);
        Assert.Equal(ScalarType.Float32, actual.dtype);
        var values = actual.data<float>().ToArray();
        Assert.Equal(32, values.Length);

        int kept = 0, divided = 0, blended = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double expected = Llama3Expected(i, 64, 500000, 32, 1, 4, 8192);
            double unscaled = 1.0 / Math.Pow(500000, 2.0 * i / 64);
            Assert.True(Math.Abs(values[i] - expected) <= 2e-6 * expected, $"inv_freq[{i}] = {values[i]}, expected {expected}");
            if (Math.Abs(expected - unscaled) < 1e-12 * unscaled) kept++;
            else if (Math.Abs(expected - unscaled / 32) < 1e-12 * unscaled) divided++;
            else blended++;
        }
        // Llama 3.2's settings: wavelengths under 2048 kept (i <= 14), over 8192 divided by 32 (i >= 18), 15..17 blended.
        Assert.Equal((15, 3, 14), (kept, blended, divided));
        Assert.Equal(1f, values[0]);
        Assert.Equal(1.0 / Math.Pow(500000, 62.0 / 64) / 32, values[31], 1e-6 * values[31]);
    }

    [Fact]
    public void Llama3TableRotatesEveryPositionByTheScaledFrequencies()
    {
        var config = Config(Llama32Scaling, hidden: 128, heads: 2); // head_dim 64
        using var model = new LlamaForCausalLM(config);
        var (cos, _) = model.model.rotary_emb.ForRange(0, 64);
        using var inv = config.Rope().InverseFrequencies(64);
        using var angles = outer(arange(64, dtype: float32), inv);
        using var expected = cat([angles, angles], -1).cos();
        Assert.True(expected.Equals(cos.view(64, 64)));
        using var defaultCos = new RotaryEmbedding(64, 64, 500000).ForRange(0, 64).Cos;
        Assert.False(defaultCos.allclose(cos, rtol: 0, atol: 1e-3)); // the rule changes the low frequencies at every length
    }

    [Theory]
    [InlineData("type")]
    [InlineData("rope_type")]
    public void LinearScalingDividesPositionsByTheFactor(string key)
    {
        var rope = Config($$""" "rope_scaling": {"{{key}}": "linear", "factor": 4.0} """).Rope();
        Assert.Equal((RopeFrequencies.Linear, 4.0), (rope.Type, rope.Factor));
        using var scaled = new RotaryEmbedding(64, 64, rope);
        using var plain = new RotaryEmbedding(64, 16, 10_000);
        // Position 4p under linear x4 is position p unscaled (dividing by a power of two is exact).
        var (scaledCos, scaledSin) = scaled.ForRange(0, 64);
        var (plainCos, plainSin) = plain.ForRange(0, 16);
        using var every4th = arange(0, 64, 4, dtype: int64);
        Assert.True(scaledCos.index_select(2, every4th).Equals(plainCos));
        Assert.True(scaledSin.index_select(2, every4th).Equals(plainSin));
    }

    [Theory]
    [InlineData("""null""")]
    [InlineData("""{"rope_type": "default"}""")]
    public void NullAndDefaultMeanNoScaling(string scaling)
    {
        var rope = Config($$""" "rope_scaling": {{scaling}} """).Rope();
        Assert.Equal(RopeFrequencies.Default, rope.Type);
        using var expected = new RopeFrequencies { Theta = 10_000 }.InverseFrequencies(64);
        using var actual = rope.InverseFrequencies(64);
        Assert.True(expected.Equals(actual));
    }

    [Fact]
    public void Transformers5RopeParametersCarryThetaAndRule()
    {
        var rope = Config("""
            "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "high_freq_factor": 4.0,
                                "low_freq_factor": 1.0, "original_max_position_embeddings": 8192}
            """).Rope();
        Assert.Equal(Config(Llama32Scaling).Rope(), rope);
    }

    [Theory]
    [InlineData("yarn")]
    [InlineData("dynamic")]
    [InlineData("longrope")]
    public void OtherRulesAreRefusedNamingTheFieldAndTheSupportedOnes(string type)
    {
        var e = Assert.Throws<SharpLMException>(() => Config($$""" "rope_scaling": {"rope_type": "{{type}}", "factor": 4.0} """));
        Assert.Contains("rope_scaling", e.Message);
        Assert.Contains($"rope_scaling.rope_type \"{type}\" is not supported", e.Message);
        Assert.Contains("\"linear\"", e.Message);
        Assert.Contains("\"llama3\"", e.Message);
    }

    [Fact]
    public void MissingOrInconsistentLlama3ParametersAreNamed()
    {
        var missing = Assert.Throws<SharpLMException>(() => Config("""
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}
            """));
        Assert.Contains("rope_scaling.original_max_position_embeddings is missing", missing.Message);
        var inverted = Assert.Throws<SharpLMException>(() => Config("""
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192}
            """));
        Assert.Contains("high_freq_factor", inverted.Message);
        var linear = Assert.Throws<SharpLMException>(() => Config(""" "rope_scaling": {"type": "linear"} """));
        Assert.Contains("rope_scaling.factor is missing", linear.Message);
    }

    [Fact]
    public void ScalingSurvivesTheConfigRoundTrip()
    {
        var config = Config(Llama32Scaling);
        var again = LlamaConfig.FromJson(config.ToJson());
        Assert.Equal(config.Rope(), again.Rope());
        Assert.Contains("\"llama3\"", again.ToJson());
    }
}
