using System.Diagnostics;
using Xunit;

namespace SharpLM.Tests.Apps;

/// <summary>A .NET app outside the repository, set up as README's "Use it from C#" says, published with
/// `dotnet publish` and run: the published copy of libtorch must load on this machine (Debian 12's libstdc++).</summary>
public sealed class PublishedAppTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void AnAppFollowingTheReadmeRunsAfterDotnetPublish()
    {
        var root = Repository.Root;
        // The README's .csproj lines, with the repository's absolute path.
        dir.Write("app/ChatApp.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <RuntimeIdentifier>linux-x64</RuntimeIdentifier>
              </PropertyGroup>
              <ItemGroup><ProjectReference Include="{root}/src/SharpLM/SharpLM.csproj" /></ItemGroup>
              <Import Project="{root}/build/RelaxGlibcxx.targets" />
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

        var publish = Run("dotnet", ["publish", dir.File("app/ChatApp.csproj"), "-c", "Release", "-o", dir.File("published"), "-nologo"],
            timeoutSeconds: 400);
        Assert.True(publish.Exit == 0, publish.Output);
        var run = Run(dir.File("published/ChatApp"), [model], timeoutSeconds: 120);
        Assert.True(run.Exit == 0, run.Output);
        Assert.Contains("answered 4 tokens", run.Output);
    }

    static (int Exit, string Output) Run(string program, string[] args, int timeoutSeconds)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{program} timed out after {timeoutSeconds} s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
