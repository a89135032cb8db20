namespace SharpLM.Cli;

/// <summary>What Ctrl+C means in `chat`: during an answer it stops that answer and returns to the prompt; at the
/// prompt the first press only warns and a second one in a row quits, so a conversation is not lost by accident.</summary>
sealed class ChatInterrupts
{
    volatile bool answering, armed;
    volatile CancellationTokenSource? answer;

    public enum Outcome { StopAnswer, Warn, Quit }

    /// <summary>True when the answer being generated should stop (a Ctrl+C came during it).</summary>
    public bool StopRequested => answer?.IsCancellationRequested ?? false;

    /// <summary>An answer starts; the token it returns is cancelled by a Ctrl+C during it.</summary>
    public CancellationToken AnswerStarted()
    {
        var source = new CancellationTokenSource();
        (answer, answering, armed) = (source, true, false);
        return source.Token;
    }

    // Not disposed: a Ctrl+C handler may be cancelling it on another thread right now.
    public void AnswerEnded() => (answering, answer) = (false, null);

    /// <summary>A line was typed at the prompt: the next Ctrl+C warns again.</summary>
    public void LineTyped() => armed = false;

    public Outcome OnCtrlC()
    {
        if (answering)
        {
            answer?.Cancel();
            return Outcome.StopAnswer;
        }
        if (armed) return Outcome.Quit;
        armed = true;
        return Outcome.Warn;
    }
}
