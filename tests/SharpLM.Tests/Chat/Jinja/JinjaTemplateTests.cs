using SharpLM.Chat.Jinja;
using Xunit;

namespace SharpLM.Tests.Chat.Jinja;

/// <summary>The Jinja features chat templates lean on, with the output Python's Jinja gives (trim_blocks and
/// lstrip_blocks on, as in transformers).</summary>
public class JinjaTemplateTests
{
    static string Render(string template, Dictionary<string, object?>? variables = null) =>
        JinjaTemplate.Parse(template).Render(variables ?? [], new DateTime(2026, 11, 26));

    static List<object?> Messages(params (string Role, string Content)[] messages) =>
        messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList();

    [Theory]
    [InlineData("a\n{% if true %}\n  b\n{% endif %}\nc", "a\n  b\nc")]           // trim_blocks: the newline after a block tag goes
    [InlineData("a\n    {% if true %}x{% endif %}", "a\nx")]                   // lstrip_blocks: indentation before a block tag goes
    [InlineData("a\n    {%+ if true %}x{% endif %}", "a\n    x")]              // ...unless the tag says {%+
    [InlineData("a  {{- 'b' -}}  \n c", "abc")]                                 // '-' strips every whitespace on its side
    [InlineData("a\n  {{ 'b' }}\n", "a\n  b\n")]                                // output tags keep whitespace
    [InlineData("x{# note #}\ny", "xy")]                                         // comments go, with their newline
    [InlineData("{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n", "  1\n  2\n")]
    public void WhitespaceFollowsHuggingFacesJinjaSettings(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ 1 + 1 }}|{{ 7 // 2 }}|{{ 7 / 2 }}|{{ -3 % 5 }}|{{ 2 ** 3 }}", "2|3|3.5|2|8")]
    [InlineData("{{ none }}|{{ true }}|{{ [1, 'a', none] }}|{{ {'k': 1.0} }}|{{ undefined_name }}|", "None|True|[1, 'a', None]|{'k': 1.0}||")]
    [InlineData("{{ 'ab' ~ 1 }}|{{ 'x' * 3 }}|{{ 'a' 'b' }}", "ab1|xxx|ab")]
    [InlineData("{{ 'abcde'[1:3] }}|{{ 'abc'[::-1] }}|{{ [1, 2, 3][-1] }}|{{ [1, 2, 3][5] is defined }}", "bc|cba|3|False")]
    [InlineData("{{ 'a' if false }}|{{ 'a' if false else 'b' }}|{{ not 1 == 2 }}|{{ 0 or 'x' }}|{{ 1 and 0 }}", "|b|True|x|0")]
    [InlineData("{{ 'b' in 'abc' }}|{{ 2 not in [1, 2] }}|{{ 'k' in {'k': 1} }}", "True|False|True")]
    [InlineData("{{ '  x \n'.strip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'x</t>y'.split('</t>')[-1] }}",
        "x|['a', 'b', '', 'c']|['a', 'b']|y")]
    [InlineData("{{ 'Hello'.startswith(('x', 'He')) }}|{{ 'aXa'.replace('a', 'b') }}|{{ '\n\nx'.lstrip('\n') }}", "True|bXb|x")]
    public void ExpressionsHavePythonsMeaning(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ ' x ' | trim }}|{{ [3, 4] | length }}|{{ 'héllo🙂' | length }}|{{ [1, 2] | join('-') }}|{{ x | default('d') }}",
        "x|2|6|1-2|d")]
    [InlineData("{{ [1, 'two', none] | tojson }}|{{ {'a': [1]} | tojson(indent=2) }}", "[1, \"two\", null]|{\n  \"a\": [\n    1\n  ]\n}")]
    [InlineData("{{ 'ab' | upper }}|{{ [1, 2, 3] | first }}|{{ [1, 2, 3] | last }}|{{ [1, 2] | reverse | list }}|{{ {'a': 1} | items | list }}",
        "AB|1|3|[2, 1]|[['a', 1]]")]
    [InlineData("{{ 'x' is string }}|{{ {} is mapping }}|{{ [] is iterable }}|{{ 3 is odd }}|{{ 4 is divisibleby 2 }}|{{ none is none }}",
        "True|True|True|True|True|True")]
    public void FiltersAndTests(string template, string expected) => Assert.Equal(expected, Render(template));

    [Fact]
    public void SelectattrTestsMissingAttributesAsUndefinedLikePythonsJinja()
    {
        var messages = Messages(("user", "a"), ("assistant", "b"), ("user", "c"));
        ((Dictionary<string, object?>)messages[1]!)["tool_calls"] = new List<object?>();
        var variables = new Dictionary<string, object?> { ["messages"] = messages };
        Assert.Equal("ac", Render("{% for m in messages | selectattr('tool_calls', 'undefined') %}{{ m.content }}{% endfor %}", variables));
        Assert.Equal("b", Render("{% for m in messages | rejectattr('role', 'equalto', 'user') %}{{ m.content }}{% endfor %}", variables));
        Assert.Equal("['user', 'assistant', 'user']", Render("{{ messages | map(attribute='role') | list }}", variables));
    }

    [Fact]
    public void LoopVariablesFiltersElseAndLoopControls()
    {
        Assert.Equal("0:1:3:True:False,1:2:2:False:False,2:3:1:False:True,",
            Render("{% for x in 'abc' %}{{ loop.index0 }}:{{ loop.index }}:{{ loop.revindex }}:{{ loop.first }}:{{ loop.last }},{% endfor %}"));
        Assert.Equal("24", Render("{% for x in range(6) if x is even and x > 0 %}{{ x }}{% endfor %}"));
        Assert.Equal("empty", Render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"));
        Assert.Equal("013", Render("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}" +
                                   "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"));
        Assert.Equal("a=1;b=2;", Render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"));
    }

    [Fact]
    public void SetInsideALoopStaysThereAndNamespacesCarryOut()
    {
        const string template = "{% set n = 0 %}{% set ns = namespace(n=0) %}{% for x in [1, 2, 3] %}{% set n = n + x %}" +
                                "{% set ns.n = ns.n + x %}{% endfor %}{{ n }} {{ ns.n }}";
        Assert.Equal("0 6", Render(template));
        Assert.Equal("yes", Render("{% if true %}{% set a = 'yes' %}{% endif %}{{ a }}")); // if blocks do not scope
    }

    [Fact]
    public void MacrosAndBlockSetsRenderTheirBodies()
    {
        const string template = "{% macro turn(role, text, end='.') %}<{{ role }}>{{ text }}{{ end }}{% endmacro %}" +
                                "{{ turn('user', 'hi') }}{{ turn('bot', 'yo', end='!') }}" +
                                "{% set block %}[{{ turn('x', 1) }}]{% endset %}{{ block | upper }}";
        Assert.Equal("<user>hi.<bot>yo![<X>1.]", Render(template));
        Assert.Contains("macro 'turn' has no parameter 'colour'", Assert.ThrowsAny<JinjaException>(() =>
            Render("{% macro turn(role) %}{% endmacro %}{{ turn('a', colour=1) }}")).Message);
    }

    [Fact]
    public void StrftimeNowFormatsTheGivenDay() =>
        Assert.Equal("26 Nov 2026|2026-11-26|Thursday",
            Render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}|{{ strftime_now('%A') }}"));

    [Theory]
    [InlineData("a\n{% if x %}\nb", "line 2: 'if' is not closed (expected elif or else or endif, found the end of the template)")]
    [InlineData("{% endfor %}", "'endfor' without a block to end")]
    [InlineData("a\nb {{ x + }}", "line 2: the tag ends too early")]
    [InlineData("{% call m() %}{% endcall %}", "'call' blocks are not supported")]
    [InlineData("{{ 'x' | frobnicate }}", "the filter 'frobnicate' is not supported")]
    [InlineData("\n\n{{ messages[0].content }}", "line 3: 'messages' is undefined (reading [0] of it)")]
    [InlineData("{{ 'x' + 1 }}", "cannot add a string and an integer")]
    [InlineData("{{ 'unclosed }}", "string literal is never closed")]
    public void MistakesAreReportedWithTheirLine(string template, string message)
    {
        var e = Assert.ThrowsAny<JinjaException>(() => Render(template));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void RaiseExceptionPassesTheTemplatesMessageOn()
    {
        var e = Assert.ThrowsAny<JinjaException>(() => Render(
            "{% if messages | length > 1 %}{{ raise_exception('Only one message, please') }}{% endif %}",
            new() { ["messages"] = Messages(("user", "a"), ("user", "b")) }));
        Assert.Equal("Only one message, please", e.Message);
    }
}
