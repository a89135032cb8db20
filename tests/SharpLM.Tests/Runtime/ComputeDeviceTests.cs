using SharpLM.Data;
using SharpLM.Model;
using SharpLM.Runtime;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Runtime;

/// <summary>Device names, the clear error for CUDA on a libtorch without it, and what a CPU model does with its device.</summary>
public sealed class ComputeDeviceTests
{
    [Theory]
    [InlineData("cpu", DeviceType.CPU, -1)]
    [InlineData("CPU", DeviceType.CPU, -1)]
    [InlineData(" cuda ", DeviceType.CUDA, -1)]
    [InlineData("cuda:0", DeviceType.CUDA, 0)]
    [InlineData("Cuda:1", DeviceType.CUDA, 1)]
    public void NamesParseToDevices(string name, DeviceType type, int index)
    {
        var device = ComputeDevice.Parse(name);
        Assert.Equal(type, device.type);
        Assert.Equal(index, device.index);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("mps")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cpu:0")]
    [InlineData("")]
    public void AnUnknownNameIsRefusedListingWhatIsAccepted(string name)
    {
        var e = Assert.Throws<SharpLMException>(() => ComputeDevice.Parse(name, "ModelOptions.Device"));
        Assert.Contains($"ModelOptions.Device \"{name}\"", e.Message);
        Assert.Contains("expected cpu, cuda or cuda:N", e.Message);
    }

    [Fact]
    public void CudaWithoutACudaLibtorchNamesThePackageAGpuMachineNeeds()
    {
        if (cuda.is_available()) return; // a GPU machine: nothing to refuse
        foreach (var name in new[] { "cuda", "cuda:1" })
        {
            var e = Assert.Throws<SharpLMException>(() => ComputeDevice.Open(name));
            Assert.StartsWith($"device {name}: CUDA is not available here", e.Message);
            Assert.Contains("libtorch-cuda-12.8-linux-x64", e.Message);
            Assert.Contains("TorchSharp-cuda-linux", e.Message);
            Assert.Contains("SharpLM references libtorch-cpu-linux-x64", e.Message);
            Assert.Contains("NVIDIA driver for CUDA 12.8", e.Message);
        }
        Assert.Equal(DeviceType.CPU, ComputeDevice.Open("cpu").type);
    }

    [Fact]
    public void DevicesCompareByKindAndIndex()
    {
        Assert.True(ComputeDevice.Same(CPU, new Device(DeviceType.CPU, 0)));
        Assert.True(ComputeDevice.Same(ComputeDevice.Parse("cuda"), ComputeDevice.Parse("cuda:0")));
        Assert.False(ComputeDevice.Same(ComputeDevice.Parse("cuda:0"), ComputeDevice.Parse("cuda:1")));
        Assert.False(ComputeDevice.Same(CPU, ComputeDevice.Parse("cuda")));
        Assert.Equal(["cpu", "cuda", "cuda:1"], new[] { "cpu", "cuda", "cuda:1" }.Select(n => ComputeDevice.Name(ComputeDevice.Parse(n))));
    }

    [Fact]
    public void ACpuModelKeepsItsBatchesWhereTheyAre()
    {
        using var model = TestModels.Tiny();
        Assert.Equal(DeviceType.CPU, model.Device.type);
        var batch = new TrainingBatch { InputIds = zeros(1, 4, int64), Labels = zeros(1, 4, int64) };
        using var moved = batch.To(model.Device);
        Assert.Same(batch, moved);
        Assert.False(moved.InputIds.IsInvalid);
    }
}
