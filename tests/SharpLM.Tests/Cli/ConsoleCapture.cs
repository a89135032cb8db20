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
}
