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
    }
}
