using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace SharpLM.Chat.Jinja;

/// <summary>What one render has used of its <see cref="JinjaLimits"/>: loop iterations, nesting depth, time
/// (checked with the caller's cancellation on every iteration and expression) and the size of values.</summary>
sealed class RenderBudget(JinjaLimits limits, CancellationToken cancel)
{
    readonly long deadline = Stopwatch.GetTimestamp() + (long)(limits.MaxTime.TotalSeconds * Stopwatch.Frequency);
    long iterations;
    long built;
    int depth;

    public int MaxChars => limits.MaxOutputChars;

    public void Iteration()
    {
        if (++iterations > limits.MaxLoopIterations)
            throw new JinjaLimitException($"more than {limits.MaxLoopIterations} loop iterations (JinjaLimits.MaxLoopIterations)");
        CheckTime();
    }

    public void CheckTime()
    {
        cancel.ThrowIfCancellationRequested();
        if (Stopwatch.GetTimestamp() > deadline)
            throw new JinjaLimitException($"rendering took longer than {limits.MaxTime.TotalSeconds:0.###} s (JinjaLimits.MaxTime)");
    }

    /// <summary>One level deeper (a block, an expression, a macro call); <see cref="Leave"/> undoes it.</summary>
    public void Enter()
    {
        CheckDepth(++depth, limits.MaxDepth);
        CheckTime();
    }

    public void Leave() => depth--;

    /// <summary>Refuses a string of <paramref name="length"/> characters (or a list of that many items) before it is built.</summary>
    public void Size(long length, string what)
    {
        if (length > limits.MaxOutputChars)
            throw new JinjaLimitException($"{what} would be longer than {limits.MaxOutputChars} (JinjaLimits.MaxOutputChars)");
    }

    /// <summary>Counts a string of <paramref name="length"/> characters (or a list of that many items) just built.</summary>
    public void Built(long length)
    {
        built += length;
        if (built > limits.MaxBuiltChars)
            throw new JinjaLimitException($"the strings and lists built passed {limits.MaxBuiltChars} characters and items in all " +
                                          "(JinjaLimits.MaxBuiltChars)");
    }

    /// <summary>Shared with the parser: past the limit, or too close to the end of the thread's stack, is refused.</summary>
    public static void CheckDepth(int depth, int maxDepth)
    {
        if (depth > maxDepth)
            throw new JinjaLimitException($"nested deeper than {maxDepth} levels (JinjaLimits.MaxDepth)");
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new JinjaLimitException($"nested too deep for this thread's stack (JinjaLimits.MaxDepth is {maxDepth})");
    }
}
