using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Runtime;

/// <summary>
/// Where a model and every tensor made for it live: <c>cpu</c> (the default) or <c>cuda</c> / <c>cuda:N</c>. SharpLM
/// references the CPU build of libtorch (<see cref="CpuPackage"/>), which has no CUDA; a GPU machine swaps it for
/// <see cref="CudaPackage"/> (or the TorchSharp-cuda-linux bundle) and needs an NVIDIA driver for CUDA 12.8.
/// </summary>
public static class ComputeDevice
{
    /// <summary>The libtorch package SharpLM references: CPU only.</summary>
    public const string CpuPackage = "libtorch-cpu-linux-x64";

    /// <summary>The libtorch package a Linux GPU machine references instead of <see cref="CpuPackage"/>.</summary>
    public const string CudaPackage = "libtorch-cuda-12.8-linux-x64";

    /// <summary>The names <see cref="Parse"/> accepts, for messages.</summary>
    public const string Accepted = "cpu, cuda or cuda:N (N = 0, 1, ...)";

    /// <summary>The device a name stands for, without asking whether it is there (<see cref="Open"/> does).</summary>
    /// <param name="name">cpu, cuda or cuda:N, in any case</param>
    /// <param name="setting">what the name was given as, for the error (e.g. "device")</param>
    public static Device Parse(string name, string setting = "device")
    {
        var text = name.Trim().ToLowerInvariant();
        if (text == "cpu") return CPU;
        if (text == "cuda") return new Device(DeviceType.CUDA); // the current GPU: cuda:0 unless the host chose another
        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text["cuda:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            return new Device(DeviceType.CUDA, index);
        throw new SharpLMException($"{setting} \"{name}\" is not a device SharpLM runs on: expected {Accepted}");
    }

    /// <summary>Throws a clear error unless this process can put tensors on <paramref name="device"/>: for CUDA, a libtorch
    /// with CUDA, a visible GPU and, for cuda:N, at least N + 1 of them.</summary>
    public static Device RequireAvailable(Device device, string setting = "device")
    {
        if (device.type == DeviceType.CPU) return device;
        if (device.type != DeviceType.CUDA) throw new SharpLMException($"{setting} {Name(device)}: expected {Accepted}");
        if (!cuda.is_available())
            throw new SharpLMException(
                $"{setting} {Name(device)}: CUDA is not available here. SharpLM references {CpuPackage}, a libtorch without CUDA; " +
                $"a GPU machine needs {CudaPackage} (or the TorchSharp-cuda-linux bundle) in its place and an NVIDIA driver for " +
                "CUDA 12.8. If that package is referenced already, no GPU is visible to this process (check nvidia-smi).");
        int count = cuda.device_count();
        if (device.index >= count)
            throw new SharpLMException($"{setting} {Name(device)}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}");
        return device;
    }

    /// <summary><see cref="Parse"/> then <see cref="RequireAvailable"/>: the device to run on, or a clear error.</summary>
    public static Device Open(string name, string setting = "device") => RequireAvailable(Parse(name, setting), setting);

    /// <summary>Whether two devices are the same (TorchSharp's Device has no equality; "cuda" is taken as cuda:0).</summary>
    public static bool Same(Device a, Device b) => a.type == b.type && (a.type == DeviceType.CPU || Math.Max(a.index, 0) == Math.Max(b.index, 0));

    /// <summary>"cpu", "cuda", "cuda:1": as <see cref="Parse"/> reads it.</summary>
    public static string Name(Device device) => device.type == DeviceType.CPU ? "cpu" : device.ToString();
}
