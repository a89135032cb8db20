using System.Runtime.InteropServices;

namespace SharpLM.Runtime;

/// <summary>
/// Settings that must reach libtorch's native environment before it loads.
/// Environment.SetEnvironmentVariable does not change the C environment on Linux,
/// so we call libc's setenv directly.
/// </summary>
public static partial class NativeEnvironment
{
    static bool configured;

    /// <summary>
    /// Makes libtorch's OpenMP threads sleep instead of spin-waiting (spinning makes torch
    /// 10-100x slower whenever anything else runs on the machine). Call first thing in Main.
    /// A value the user already set wins.
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
    /// Training allocates and frees the same large tensors every step (logits alone are tens of MB). glibc serves
    /// blocks over 32 MB with fresh mmap and returns them on free, so every step pays page faults again; in a VM
    /// that made the LM head and loss 5-30x slower. Keeping freed memory in the heap lets the next step reuse it.
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
