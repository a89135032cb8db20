using System.Diagnostics;

namespace SharpLM.Tests.Packages;

/// <summary>Runs a program (dotnet, an installed tool, a published app) to its end, as a user's shell would.</summary>
static class ChildProcess
{
    /// <summary>The exit code and stdout followed by stderr; -1 and a message when it runs past the timeout.</summary>
    public static (int Exit, string Output) Run(string program, IReadOnlyList<string> args, int timeoutSeconds,
        string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"`{program} {string.Join(' ', args)}` timed out after {timeoutSeconds} s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
