using System.Runtime.InteropServices;

namespace SharpLM.Runtime;

/// <summary>
/// Process-wide native settings for running libtorch well: the host's choice, never made by the library itself
/// (the <c>sharplm</c> CLI, the benchmarks and the tests call <see cref="Configure"/> first thing).
/// Environment.SetEnvironmentVariable does not change the C environment on Linux,
/// so we call libc's setenv directly.
/// </summary>
public static partial class NativeEnvironment
{
    static bool configured;

    /// <summary>Whether the host has called <see cref="Configure"/>.</summary>
    internal static bool IsConfigured => configured;

    /// <summary>
    /// Tunes the whole process for libtorch; a host may call it first thing in Main, before anything loads libtorch
    /// (OpenMP reads its settings once, when it loads). SharpLM's library never calls it: it changes the host process,
    /// not just SharpLM. It
    /// <list type="bullet">
    /// <item>on Linux and macOS, sets <c>OMP_WAIT_POLICY=PASSIVE</c> and <c>KMP_BLOCKTIME=0</c> in the C environment,
    /// so libtorch's idle OpenMP threads sleep instead of spin-waiting (spinning threads steal the cores from anything
    /// else that runs, and from each other when the machine is busy); a value already set wins;</item>
    /// <item>with glibc, makes malloc keep freed memory for reuse instead of returning it to the system, so a training
    /// step reuses the pages of the step before; the process keeps its peak memory until it exits. Set
    /// <c>SHARPLM_MALLOC_DEFAULT=1</c> to leave malloc as it is;</item>
    /// <item>lets generation run libtorch's part of a decoding step on one thread by default
    /// (<see cref="Generation.TokenGenerator.DecodeThreads"/>), which sets libtorch's thread count around each step; SharpLM's
    /// own product kernels keep using every core.</item>
    /// </list>
    /// Calling it again does nothing. Without it SharpLM works the same, only slower (in training, in generation,
    /// and on a busy machine).
    /// </summary>
    public static void Configure()
    {
        if (configured) return;
        configured = true;
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        SetIfUnset("OMP_WAIT_POLICY", "PASSIVE");
        SetIfUnset("KMP_BLOCKTIME", "0");
        KeepFreedMemory();
    }

    /// <summary>
    /// Training allocates and frees the same large tensors every step (the logits alone are large). glibc serves
    /// large blocks with fresh mmap and returns them on free, so every step pays the page faults again, which slows
    /// the LM head and the loss badly in a VM. Keeping freed memory in the heap lets the next step reuse it.
    /// The cost: the process keeps its peak memory until it exits. Set SHARPLM_MALLOC_DEFAULT=1 to opt out.
    /// </summary>
    static void KeepFreedMemory()
    {
        if (Environment.GetEnvironmentVariable("SHARPLM_MALLOC_DEFAULT") == "1") return;
        const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_MAX = -4;
        try
        {
            mallopt(M_MMAP_MAX, 0);
            mallopt(M_TRIM_THRESHOLD, int.MaxValue);
            mallopt(M_TOP_PAD, 64 << 20);
        }
        catch (EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): nothing to tune.
        }
    }

    static void SetIfUnset(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) is not null) return;
        if (setenv(name, value, 0) != 0)
            throw new InvalidOperationException($"setenv({name}) failed");
        Environment.SetEnvironmentVariable(name, value);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    [LibraryImport("libc")]
    private static partial int mallopt(int param, int value);
}
