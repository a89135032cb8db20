namespace SharpLM.Cli;

/// <summary>What Ctrl+C means in `chat`: during an answer it stops that answer and returns to the prompt; at the
/// prompt the first press only warns and a second one in a row quits, so a conversation is not lost by accident.</summary>
sealed class ChatInterrupts
{
    volatile bool answering, armed, stopAnswer;

    public enum Outcome { StopAnswer, Warn, Quit }

    /// <summary>True when the answer being generated should stop (a Ctrl+C came during it).</summary>
    public bool StopRequested => stopAnswer;

    public void AnswerStarted() => (answering, stopAnswer, armed) = (true, false, false);

    public void AnswerEnded() => (answering, stopAnswer) = (false, false);

    /// <summary>A line was typed at the prompt: the next Ctrl+C warns again.</summary>
    public void LineTyped() => armed = false;

    public Outcome OnCtrlC()
    {
        if (answering)
        {
            stopAnswer = true;
            return Outcome.StopAnswer;
        }
        if (armed) return Outcome.Quit;
        armed = true;
        return Outcome.Warn;
    }
}
