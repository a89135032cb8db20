using System.Runtime.InteropServices;

namespace SharpLM.Tokenization;

/// <summary>
/// Unicode normalization form C, as tokenizer.json's NFC normalizer asks (Qwen2). SharpLM runs with invariant
/// globalization, which makes .NET's own <see cref="string.Normalize()"/> return text unchanged, so this calls the
/// system's ICU library (libicuuc, which .NET itself uses otherwise) directly. Text below U+0300 is always in NFC
/// and never needs ICU.
/// </summary>
public static class UnicodeNfc
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate IntPtr GetInstance(ref int error);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
    delegate int NormalizeFunction(IntPtr normalizer, [In] char[] source, int length, [Out] char[]? destination, int capacity, ref int error);

    static readonly Lazy<(IntPtr Instance, NormalizeFunction Call)?> icu = new(LoadIcu);

    /// <summary>Whether the ICU library was found (only needed for text with characters from U+0300 up).</summary>
    public static bool Available => icu.Value is not null;

    const int BufferOverflowError = 15; // ICU's U_BUFFER_OVERFLOW_ERROR

    /// <summary>Whether NFC may change <paramref name="text"/>: text below U+0300 is always in NFC.</summary>
    public static bool MayChange(ReadOnlySpan<char> text) => text.ContainsAnyInRange('\u0300', '\uffff');

    /// <summary>The NFC form of <paramref name="text"/>.</summary>
    /// <exception cref="SharpLMException">The text needs normalizing and no ICU library is installed.</exception>
    public static string Apply(string text) => MayChange(text) ? Normalize(text) : text;

    /// <summary>NFC through ICU, for text <see cref="MayChange"/> says needs it.</summary>
    internal static string Normalize(string text)
    {
        var (instance, call) = icu.Value ?? throw new SharpLMException(
            "this tokenizer puts text in Unicode NFC, which needs the ICU library (libicuuc.so, e.g. Debian's libicu72 package); it was not found");
        var source = text.ToCharArray();
        // NFC grows text by at most 3x, so one call nearly always does; ICU says how much room it wanted if not.
        var destination = new char[Math.Max(16, 3 * source.Length)];
        int error = 0;
        int length = call(instance, source, source.Length, destination, destination.Length, ref error);
        if (error == BufferOverflowError)
        {
            destination = new char[length];
            error = 0;
            length = call(instance, source, source.Length, destination, destination.Length, ref error);
        }
        if (error > 0) throw new SharpLMException($"ICU could not normalize the text (UErrorCode {error})");
        return new string(destination, 0, length);
    }

    /// <summary>ICU's exports carry its major version (<c>unorm2_normalize_72</c>); try the versions a Linux
    /// distribution may ship, newest first, then unversioned names.</summary>
    static (IntPtr, NormalizeFunction)? LoadIcu()
    {
        for (int version = 90; version >= 50; version--)
        {
            if (!NativeLibrary.TryLoad($"libicuuc.so.{version}", out var library)) continue;
            foreach (var suffix in new[] { $"_{version}", "" })
            {
                if (!NativeLibrary.TryGetExport(library, "unorm2_getNFCInstance" + suffix, out var getInstance) ||
                    !NativeLibrary.TryGetExport(library, "unorm2_normalize" + suffix, out var normalize)) continue;
                int error = 0;
                var instance = Marshal.GetDelegateForFunctionPointer<GetInstance>(getInstance)(ref error);
                if (error > 0 || instance == IntPtr.Zero) continue;
                return (instance, Marshal.GetDelegateForFunctionPointer<NormalizeFunction>(normalize));
            }
        }
        return null;
    }
}
