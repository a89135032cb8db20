using SharpLM.Generation;
using Xunit;

namespace SharpLM.Tests.Generation;

public class GenerationConfigTests
{
    [Fact]
    public void AFileWithoutDoSampleMeansGreedyAsInTransformers()
    {
        using var dir = new TempDirectory();
        var hf = GenerationConfig.Load(dir.Write("hf.json", """{"bos_token_id": 1, "eos_token_id": [2, 3], "temperature": 0.7}"""));
        Assert.True(hf.ToSamplingOptions().IsGreedy);
        Assert.Equal(new[] { 2, 3 }, hf.EosTokenId);

        var ours = GenerationConfig.Load(dir.Write("ours.json", new GenerationConfig().ToJson()));
        Assert.False(ours.ToSamplingOptions().IsGreedy);
        Assert.Equal(new SamplingOptions() with { StopStrings = [] }, ours.ToSamplingOptions() with { StopStrings = [] });
    }
}
