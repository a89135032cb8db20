using System.Reflection;
using System.Security.Cryptography;
using Xunit;

namespace SharpLM.Tests.Packages;

/// <summary>This checkout's NuGet packages in artifacts/, as .ci/run and README's "Install" make them (`dotnet pack -o artifacts`):
/// packed again first when missing or older than any file they are made from, so the tests never try stale packages.</summary>
static class LocalPackages
{
    public static string Folder { get; } = Path.Combine(Repository.Root, "artifacts");

    /// <summary>The version of the code under test (Directory.Build.props), read off the library's assembly.</summary>
    public static string Version { get; } = typeof(global::SharpLM.Hub.PretrainedModel).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

    public static string Library => Path.Combine(Folder, $"SharpLM.{Version}.nupkg");

    public static string Tool => Path.Combine(Folder, $"SharpLM.Cli.{Version}.nupkg");

    static readonly Lazy<string> packed = new(Pack); // one pack for all the tests that need it, however many ask at once

    /// <summary>The artifacts folder, holding both packages made from the current sources.</summary>
    public static string Ensure() => packed.Value;

    static string Pack()
    {
        if (Current()) return Folder;
        var (exit, output) = ChildProcess.Run("dotnet", ["pack", Path.Combine(Repository.Root, "SharpLM.slnx"), "-o", Folder, "-nologo"],
            timeoutSeconds: 600);
        Assert.True(exit == 0, output);
        Assert.True(Current(), $"`dotnet pack -o artifacts` did not write {Library} and {Tool}:\n{output}");
        return Folder;
    }

    static bool Current()
    {
        if (!File.Exists(Library) || !File.Exists(Tool)) return false;
        var packedAt = new[] { File.GetLastWriteTimeUtc(Library), File.GetLastWriteTimeUtc(Tool) }.Min();
        return Sources().All(f => File.GetLastWriteTimeUtc(f) < packedAt);
    }

    /// <summary>What goes into the packages: src/ (less build outputs), the build targets, the props and the README.</summary>
    static IEnumerable<string> Sources()
    {
        var root = Repository.Root;
        var sep = Path.DirectorySeparatorChar;
        return Directory.EnumerateFiles(Path.Combine(root, "src"), "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{sep}bin{sep}") && !f.Contains($"{sep}obj{sep}"))
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "build")))
            .Concat(new[] { "Directory.Build.props", "Directory.Build.targets", "README.md", "global.json" }.Select(f => Path.Combine(root, f)));
    }

    /// <summary>Makes a restore in <paramref name="appFolder"/> take the library package from artifacts/. NuGet extracts a package
    /// version once into its global packages folder and reuses it from then on; every pack of this checkout has the same version, so a
    /// copy an earlier pack left there is removed unless it is this very file (same SHA-512, as NuGet records it).</summary>
    public static void ForgetOlderLibraryCopy(string appFolder)
    {
        var (exit, output) = ChildProcess.Run("dotnet", ["nuget", "locals", "global-packages", "--list"], timeoutSeconds: 60, appFolder);
        Assert.True(exit == 0, output);
        const string Label = "global-packages:";
        var globalPackages = output.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith(Label))[Label.Length..].Trim();
        var cached = Path.Combine(globalPackages, "sharplm", Version.ToLowerInvariant());
        var recordedHash = Path.Combine(cached, $"sharplm.{Version.ToLowerInvariant()}.nupkg.sha512");
        if (!Directory.Exists(cached)) return;
        if (File.Exists(recordedHash) && File.ReadAllText(recordedHash) == Convert.ToBase64String(SHA512.HashData(File.ReadAllBytes(Library))))
            return;
        Directory.Delete(cached, recursive: true);
    }
}
