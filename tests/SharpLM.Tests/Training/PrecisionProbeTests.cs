using SharpLM.Training;
using TorchSharp;
using Xunit;

namespace SharpLM.Tests.Training;

public class PrecisionProbeTests
{
    [Fact]
    public void AStretchOfContentionSlowsBothTypesAlike()
    {
        // bf16 takes twice as long as fp32 (a CPU without native bf16); the first ten timings, whatever their type, run
        // four times slower (another process on the cores). Timed one type after the other, all nine of fp32's would fall
        // in that stretch and bf16 would look twice as fast as fp32.
        int calls = 0;
        double Seconds(torch.ScalarType type) => (type == torch.ScalarType.Float32 ? 1.0 : 2.0) * (calls++ < 10 ? 4 : 1);
        Assert.Equal(0.5, PrecisionProbe.Speedup(Seconds, rounds: 9), 6);
        Assert.Equal(18, calls);
    }

    [Fact]
    public void TheSpeedupIsFp32TimeOverBf16Time()
    {
        double Seconds(torch.ScalarType type) => type == torch.ScalarType.Float32 ? 3.0 : 1.5;
        Assert.Equal(2.0, PrecisionProbe.Speedup(Seconds, rounds: 3), 6);
    }
}
