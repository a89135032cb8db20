using Xunit;

namespace SharpLM.Tests.Packages;

/// <summary>A .NET app outside the repository, set up as README's "Use it from C#" says: a PackageReference to SharpLM from the local
/// feed and nothing else. Built, run, published and run again: each copy of libtorch must load on this machine, which takes the
/// Debian 12 libstdc++ fix that the package's buildTransitive targets apply, with no import in the app.</summary>
[Collection(PackagesCollection.Name)]
public sealed class LibraryPackageTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void AnAppReferencingThePackageRunsAfterBuildAndPublish()
    {
        var feed = LocalPackages.Ensure();
        // The local feed beside the configured ones (nuget.org), whose packages (TorchSharp, libtorch...) come from the global
        // packages folder as they do for every other project on the machine.
        dir.Write("app/NuGet.config", $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><add key="sharplm-artifacts" value="{feed}" /></packageSources></configuration>
            """);
        dir.Write("app/ChatApp.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup><PackageReference Include="SharpLM" Version="{LocalPackages.Version}" /></ItemGroup>
            </Project>
            """);
        dir.Write("app/Program.cs", """
            using Microsoft.Extensions.AI;
            using SharpLM.Serving;

            SharpLM.Runtime.NativeEnvironment.Configure();
            using IChatClient chat = SharpLMChatClient.Load(args[0]);
            var answer = await chat.GetResponseAsync("Hello", new ChatOptions { Temperature = 0, MaxOutputTokens = 4 });
            Console.WriteLine($"answered {answer.Usage?.OutputTokenCount} tokens");
            """);
        var model = TestModels.TinyFolder(dir.File("model"));
        LocalPackages.ForgetOlderLibraryCopy(dir.File("app"));

        var publish = ChildProcess.Run("dotnet", ["publish", dir.File("app/ChatApp.csproj"), "-c", "Release", "-o", dir.File("published"),
            "-nologo"], timeoutSeconds: 400);
        Assert.True(publish.Exit == 0, publish.Output);
        // The build output (what `dotnet run` starts) and the published copy each hold their own libLibTorchSharp.so.
        foreach (var (program, args) in new[] { ("dotnet", new[] { dir.File("app/bin/Release/net10.0/ChatApp.dll"), model }),
                     (dir.File("published/ChatApp"), [model]) })
        {
            var run = ChildProcess.Run(program, args, timeoutSeconds: 120);
            Assert.True(run.Exit == 0, run.Output);
            Assert.Contains("answered 4 tokens", run.Output);
        }
    }
}
