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
}
