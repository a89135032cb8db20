using System.CommandLine;

namespace SharpLM.Cli;

/// <summary>Runs the parsed command and turns failures into one clear message on stderr and a non-zero exit code.</summary>
static class CommandRunner
{
    public static int Invoke(Command root, string[] args)
    {
        Terminal.SendDiagnosticsToStderr();
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            var parse = root.Parse(args);
            bool help = args.Any(a => a is "-h" or "--help" or "-?");
            if (!help) parse = RunConfig.Apply(parse);
            if (parse.Errors.Count > 0 && !help)
            {
                // One line per problem instead of the parser's suggestions for values and the whole help text.
                foreach (var line in UsageErrors.Describe(parse)) Error(line);
                return 1;
            }
            return parse.Invoke(config);
        }
        catch (Exception e) when (e is SharpLMException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            Error(e.Message);
            return 1;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Anything else is a bug in SharpLM: one line, not a stack trace, unless asked for.
            Error($"{e.Message} (this is a bug in SharpLM, {e.GetType().Name}: please report it; SHARPLM_DEBUG=1 shows the stack trace)");
            if (Environment.GetEnvironmentVariable("SHARPLM_DEBUG") == "1") Console.Error.WriteLine(e);
            return 1;
        }
    }

    /// <summary>One unwrapped line (a log or a test reads it whole), "error:" in red on a terminal.</summary>
    static void Error(string message) =>
        Console.Error.WriteLine((Console.IsErrorRedirected ? "error: " : "\u001b[31merror:\u001b[0m ") +
                                (Distributed.IsMain ? "" : $"rank {Distributed.Group.Rank}: ") + message);
}
