using System.CommandLine;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>Runs the parsed command and turns failures into one clear message and a non-zero exit code.</summary>
static class CommandRunner
{
    public static int Invoke(RootCommand root, string[] args)
    {
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            return root.Parse(args).Invoke(config);
        }
        catch (Exception e) when (e is SharpLMException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Anything else is a bug in SharpLM: one line, not a stack trace, unless asked for.
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            AnsiConsole.MarkupLineInterpolated($"This is a bug in SharpLM ({e.GetType().Name}); please report it. Set SHARPLM_DEBUG=1 to see the stack trace.");
            if (Environment.GetEnvironmentVariable("SHARPLM_DEBUG") == "1") AnsiConsole.WriteLine(e.ToString());
            return 1;
        }
    }
}
