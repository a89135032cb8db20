using System.Diagnostics;
using SharpLM.Chat.Jinja;
using Xunit;

namespace SharpLM.Tests.Chat.Jinja;

/// <summary>A model's chat template is untrusted input: every parse and render is bounded, and a template past a bound
/// is refused quickly with a message naming the bound, never a hang, an OverflowException or a crashed process.</summary>
public class JinjaLimitsTests
{
    // The defaults but fewer loop iterations, so the loop case is quick.
    static readonly JinjaLimits Small = new() { MaxLoopIterations = 100_000 };

    static JinjaLimitException Refused(string template, JinjaLimits? limits = null)
    {
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<JinjaLimitException>(() => JinjaTemplate.Parse(template, limits).Render(new Dictionary<string, object?>()));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"refused only after {clock.Elapsed}");
        return e;
    }

    [Theory]
    [InlineData("{{ 'x' * 10**9 }}", "MaxOutputChars")]
    [InlineData("{{ 'ab' * 9223372036854775807 }}", "MaxOutputChars")]
    [InlineData("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "MaxOutputChars")]
    [InlineData("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "MaxOutputChars")]
    [InlineData("{% set x = 'x' * 3000000 %}{{ [x, x] | join }}", "MaxOutputChars")]
    [InlineData("{% set x = 'x' * 3000000 %}{{ [x, x] }}", "MaxOutputChars")]
    [InlineData("{% set x = 'x' * 3000000 %}{{ '-'.join([x, x]) }}", "MaxOutputChars")]
    [InlineData("{% for i in range(50000) %}{{ 'x' * 100 }}{% endfor %}", "MaxOutputChars")]
    [InlineData("{{ ('x' * 1000000).replace('x', 'yyyyy') }}", "MaxOutputChars")]
    [InlineData("{{ {'a': 1} | tojson(indent=10000000) }}", "MaxOutputChars")]
    [InlineData("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "MaxLoopIterations")]
    [InlineData("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "MaxDepth")]
    public void RunawayTemplatesAreRefusedQuicklyNamingTheBound(string template, string bound) =>
        Assert.Contains($"(JinjaLimits.{bound}", Refused(template, Small).Message);

    [Fact]
    public void QuadraticAppendsStopAtTheLimitOnWhatIsBuilt()
    {
        const string template = "{% set ns = namespace(s='') %}{% for i in range(100000) %}" +
                                "{% set ns.s = ns.s ~ 'abcdefghijklmnopqrstuvwxyz' %}{% endfor %}";
        Assert.Contains("(JinjaLimits.MaxBuiltChars)", Refused(template).Message);
        // Strings kept in a list are each within bounds, but not all of them together.
        const string hoarding = "{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = ns.l + [('x' * 1000000) ~ i] %}{% endfor %}";
        Assert.Contains("(JinjaLimits.MaxBuiltChars)", Refused(hoarding, new JinjaLimits { MaxBuiltChars = 10_000_000 }).Message);
    }

    [Fact]
    public void SlowTemplatesStopAtTheTimeLimit()
    {
        const string template = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        Assert.Contains("longer than 0.2 s (JinjaLimits.MaxTime)",
            Refused(template, new JinjaLimits { MaxTime = TimeSpan.FromMilliseconds(200) }).Message);
        var unique = "{{ range(100000) | unique | list | length }}";
        Assert.Contains("(JinjaLimits.MaxTime)", Refused(unique, new JinjaLimits { MaxTime = TimeSpan.FromMilliseconds(200) }).Message);
    }

    [Theory]
    [InlineData(10_000, "(", ")")]
    [InlineData(10_000, "[", "]")]
    [InlineData(10_000, "-", "")]
    [InlineData(10_000, "not ", "")]
    public void DeeplyNestedExpressionsAreRefusedByTheParser(int depth, string open, string close)
    {
        var template = "{{ " + string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth)) + " }}";
        var e = Assert.Throws<JinjaLimitException>(() => JinjaTemplate.Parse(template));
        Assert.Contains("line 1: nested deeper than 200 levels (JinjaLimits.MaxDepth)", e.Message);
    }

    [Fact]
    public void DeeplyNestedBlocksAndLongOperatorChainsAreRefused()
    {
        var blocks = string.Concat(Enumerable.Repeat("{% if true %}", 1000)) + "x" + string.Concat(Enumerable.Repeat("{% endif %}", 1000));
        Assert.Contains("JinjaLimits.MaxDepth", Assert.Throws<JinjaLimitException>(() => JinjaTemplate.Parse(blocks)).Message);
        // A long chain parses in a loop, but evaluates recursively: the render refuses it.
        Assert.Contains("JinjaLimits.MaxDepth", Refused("{{ 1" + string.Concat(Enumerable.Repeat(" + 1", 1000)) + " }}").Message);
    }

    [Fact]
    public void ATemplateOfManyTagsParsesInLinearTime()
    {
        var template = string.Concat(Enumerable.Repeat("{{ x }}\n", 200_000)) + "{{ x + }}";
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse(template));
        Assert.StartsWith("line 200001: ", e.Message); // line numbers still right
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"parsed in {clock.Elapsed}");
    }

    [Fact]
    public void AValueThatHoldsItselfIsRefusedWhenWritten()
    {
        var e = Refused("{% set ns = namespace(a=1) %}{% set ns.self = ns %}{{ ns | tojson }}");
        Assert.Contains("nested too deep", e.Message);
    }

    [Theory]
    [InlineData("{{ 99999999999999999999 }}", "does not fit in 64 bits")]
    [InlineData("{{ 2 ** 64 }}", "integer overflow")]
    [InlineData("{{ (-2 ** 63) // -1 }}", "integer overflow")]
    [InlineData("{{ 9223372036854775807 + 1 }}", "integer overflow")]
    [InlineData("{{ 3037000500 * 3037000500 }}", "integer overflow")]
    [InlineData("{{ (-4611686018427387904 * 2) // -1 }}", "integer overflow")]
    [InlineData("{{ -(-4611686018427387904 * 2) }}", "integer overflow")]
    [InlineData("{{ (-4611686018427387904 * 2) | abs }}", "integer overflow")]
    [InlineData("{{ (10.0 ** 300) | int }}", "integer overflow")]
    public void IntegerOverflowIsATemplateErrorNotACrash(string template, string message)
    {
        var e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse(template).Render(new Dictionary<string, object?>()));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("line 1: ", e.Message);
    }

    [Theory]
    [InlineData("{{ (-2 ** 63) % -1 }}|{{ (-4611686018427387904 * 2) % -1 }}", "0|0")]
    [InlineData("{{ -7 // 2 }}|{{ 7 // -2 }}|{{ -7 % 3 }}|{{ 7 % -3 }}|{{ 2 ** 62 }}|{{ 2 ** -1 }}", "-4|-4|2|-2|4611686018427387904|0.5")]
    [InlineData("{{ '-'.join([[1], 2, 'a']) }}|{{ 'ab'.startswith(['x', 'a']) }}", "[1]-2-a|True")]
    [InlineData("{{ 'a,b,c'.split(',', 9223372036854775807) }}", "['a', 'b', 'c']")]
    [InlineData("{{ [1, 2, 3][1::9223372036854775807] }}|{{ 'abc'[2::-9223372036854775807] }}|{{ 'abcdef'[-2:0:-2] }}|{{ 'a🙂b'[::-1] }}",
        "[2]|c|ec|b🙂a")]
    public void ArithmeticJoinAndSlicesKeepPythonsMeaning(string template, string expected) =>
        Assert.Equal(expected, JinjaTemplate.Parse(template).Render(new Dictionary<string, object?>()));

    [Fact]
    public void ACancelledRenderStops()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var template = JinjaTemplate.Parse("{% for i in range(10) %}{{ i }}{% endfor %}");
        Assert.ThrowsAny<OperationCanceledException>(() => template.Render(new Dictionary<string, object?>(), cancel: cancel.Token));
    }

    [Fact]
    public void TheLimitsAreSettable()
    {
        var template = JinjaTemplate.Parse("{{ 'x' * 20 }}");
        Assert.Equal(20, template.Render(new Dictionary<string, object?>()).Length);
        var e = Assert.Throws<JinjaLimitException>(() =>
            template.WithLimits(new JinjaLimits { MaxOutputChars = 10 }).Render(new Dictionary<string, object?>()));
        Assert.Equal("line 1: a repeated string would be longer than 10 (JinjaLimits.MaxOutputChars)", e.Message);
    }
}
