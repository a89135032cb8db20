using SharpLM.Training;
using Xunit;

namespace SharpLM.Tests.Training;

public class LearningRateScheduleTests
{
    [Fact]
    public void WarmsUpLinearlyFromATenthThenFollowsACosineToZero()
    {
        var s = new LearningRateSchedule(1e-3, WarmupSteps: 10, TotalSteps: 110);
        Assert.Equal(1e-4, s.At(0), 12);
        Assert.Equal(1e-4 + 0.9e-3 * 5 / 10, s.At(5), 12);
        Assert.Equal(1e-3, s.At(10), 12);
        Assert.Equal(0.5e-3, s.At(60), 12);
        Assert.Equal(0, s.At(110), 12);
        Assert.Equal(0, s.At(500), 12);
    }

    [Fact]
    public void CosineCanEndAtAFloor()
    {
        var s = new LearningRateSchedule(1.0, 0, 100, MinLr: 0.1);
        Assert.Equal(1.0, s.At(0), 12);
        Assert.Equal(0.1, s.At(100), 12);
    }
}
