using System.CommandLine;
using SharpLM.Cli;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>Runs command-line code in-process with stdout and stderr captured. The CLI points its diagnostics console
/// at whatever Console.Error is when a command starts, so both streams are caught.</summary>
static class ConsoleCapture
{
    public static (T Result, string Out, string Err) Run<T>(Func<T> action)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        var (outWriter, errWriter) = (new StringWriter(), new StringWriter());
        try
        {
            Console.SetOut(outWriter);
            Console.SetError(errWriter);
            var result = action();
            return (result, outWriter.ToString(), errWriter.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }

    /// <summary>Runs a command line in-process: its exit code and everything it printed (stdout, then stderr).</summary>
    public static (int Code, string Output) Invoke(Command root, params string[] args)
    {
        var (code, stdout, stderr) = Run(() => CommandRunner.Invoke(root, args));
        return (code, stdout + stderr);
    }

    /// <summary>Fails with the command's output unless it exited with 0.</summary>
    public static void AssertOk((int Code, string Output) result) => Assert.True(result.Code == 0, result.Output);
}
