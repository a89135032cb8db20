using System.Text.RegularExpressions;

namespace SharpLM;

/// <summary>
/// Regular expressions read from files (tokenizer.json Split patterns, adapter_config.json target_modules) are
/// untrusted input: a pattern such as <c>(a+)+$</c> makes the backtracking engine take exponential time. Such patterns
/// run on the linear-time NonBacktracking engine; the ones it cannot run (lookarounds such as GPT-2's <c>\s+(?!\S)</c>,
/// backreferences) run on the backtracking engine with a match timeout.
/// </summary>
static class UntrustedRegex
{
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The pattern on the NonBacktracking engine where it allows it, else with <see cref="MatchTimeout"/>.
    /// An invalid pattern throws <see cref="ArgumentException"/>.</summary>
    public static Regex Create(string pattern, RegexOptions options)
    {
        try
        {
            return new Regex(pattern, options | RegexOptions.NonBacktracking);
        }
        catch (NotSupportedException)
        {
            return new Regex(pattern, options, MatchTimeout);
        }
    }

    /// <summary>What a <see cref="RegexMatchTimeoutException"/> becomes: an error naming the file and field.</summary>
    public static SharpLMException TimedOut(string source, string pattern, RegexMatchTimeoutException e) =>
        new($"{source}: the regular expression \"{(pattern.Length > 80 ? pattern[..80] + "..." : pattern)}\" took longer than " +
            $"{MatchTimeout.TotalSeconds:0.#} s on one text; the pattern backtracks catastrophically", e);
}
