using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>Where the CLI writes: what a command was asked for (generated text, evaluation tables, previews) on
/// stdout, everything else (progress, settings, diagnostics, errors) on stderr, so `sharplm generate > out.txt`
/// captures only the text and `2>/dev/null` leaves only results.</summary>
static class Terminal
{
    /// <summary>Sends <see cref="AnsiConsole"/> (used for all diagnostics) to stderr.</summary>
    public static void SendDiagnosticsToStderr()
    {
        if (!Distributed.IsMain)
        {
            // The main rank speaks for the group; the others report only errors (CommandRunner writes those itself).
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
            Console.SetOut(TextWriter.Null);
            return;
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        // A log written to a file or pipe keeps each message on one line, whole (nothing expands to the width).
        if (!console.Profile.Out.IsTerminal) console.Profile.Width = 1000;
        AnsiConsole.Console = console;
    }

    /// <summary>A console on stdout, for results (made on each use, so it follows Console.Out).</summary>
    public static IAnsiConsole Results
    {
        get
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
            // Files and pipes: tables and rules at 160 columns rather than 80.
            if (!console.Profile.Out.IsTerminal) console.Profile.Width = 160;
            return console;
        }
    }
}
