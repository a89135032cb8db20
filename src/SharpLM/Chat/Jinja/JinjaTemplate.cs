using System.Text;

namespace SharpLM.Chat.Jinja;

/// <summary>
/// A Jinja template as Hugging Face chat templates use them: parsed once, rendered with variables such as
/// <c>messages</c>, <c>add_generation_prompt</c>, <c>bos_token</c> and <c>eos_token</c>. Implements the part of
/// Jinja that real chat templates need (checked against @huggingface/jinja on the templates of Llama 3, Llama 3.2,
/// Qwen 2.5, Qwen 3, Mistral-Nemo, Gemma 3, DeepSeek-V3, InternLM2 and ChatGLM3), with Python's semantics and Hugging Face's whitespace settings
/// (trim_blocks, lstrip_blocks). No .NET library renders Jinja; this is written by hand for that reason.
/// </summary>
public sealed class JinjaTemplate
{
    readonly List<Node> body;

    JinjaTemplate(List<Node> body, JinjaLimits limits) => (this.body, Limits) = (body, limits);

    /// <summary>Parses <paramref name="source"/>; a syntax error throws <see cref="JinjaException"/> naming the line,
    /// nesting deeper than <paramref name="limits"/> allow throws <see cref="JinjaLimitException"/>.</summary>
    public static JinjaTemplate Parse(string source, JinjaLimits? limits = null)
    {
        limits ??= JinjaLimits.Default;
        return new(JinjaParser.Parse(source, limits.MaxDepth), limits);
    }

    /// <summary>The bounds of every render (see <see cref="Render"/>).</summary>
    public JinjaLimits Limits { get; }

    /// <summary>The same template, rendered within other bounds.</summary>
    public JinjaTemplate WithLimits(JinjaLimits limits) => new(body, limits);

    /// <summary>Renders with <paramref name="variables"/>: strings, bools, integers (long), doubles, null, and
    /// <c>List&lt;object?&gt;</c> / <c>Dictionary&lt;string, object?&gt;</c> of those. <c>strftime_now</c> formats
    /// <paramref name="now"/> (default: the current local time, as transformers does). A render that passes one of
    /// <see cref="Limits"/> throws <see cref="JinjaLimitException"/>; one that <paramref name="cancel"/> stops throws
    /// <see cref="OperationCanceledException"/>.</summary>
    public string Render(IReadOnlyDictionary<string, object?> variables, DateTime? now = null, CancellationToken cancel = default)
    {
        var budget = new RenderBudget(Limits, cancel);
        var builtins = new JinjaBuiltins(now ?? DateTime.Now, budget);
        var globals = new Scope(null);
        foreach (var (name, value) in builtins.Globals()) globals.Set(name, value);
        var scope = new Scope(globals);
        foreach (var (name, value) in variables) scope.Set(name, Normalize(value));
        var output = new StringBuilder();
        try
        {
            new JinjaRenderer(builtins, budget).Render(body, scope, output);
        }
        catch (Exception e) when (e is not JinjaException and not OperationCanceledException)
        {
            // The template is untrusted input: a case this engine did not foresee is still the template's error.
            throw new JinjaException($"the template could not be rendered ({e.GetType().Name}: {e.Message})");
        }
        return output.ToString();
    }

    /// <summary>ints become long, arrays become lists, so templates see one type per kind of value.</summary>
    static object? Normalize(object? value) => value switch
    {
        int i => (long)i,
        float f => (double)f,
        Dictionary<string, object?> d => d.ToDictionary(kv => kv.Key, kv => Normalize(kv.Value)),
        IDictionary<string, string> d => d.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
        string s => s,
        System.Collections.IEnumerable e => e.Cast<object?>().Select(Normalize).ToList(),
        _ => value,
    };
}
