using TorchSharp;
using Xunit;

namespace SharpLM.Tests;

public class LibTorchLoadsTests
{
    [Fact]
    public void LibTorchLoadsAndComputes()
    {
        using var a = torch.ones(2, 3);
        using var b = torch.ones(3, 4);
        using var c = a.matmul(b);
        Assert.Equal(3f, c[1, 2].item<float>());
        Assert.Equal("PASSIVE", Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"));
    }
}
