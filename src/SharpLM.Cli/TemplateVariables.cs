using System.CommandLine;
using System.Globalization;
using SharpLM.Chat;

namespace SharpLM.Cli;

/// <summary>`--template-var NAME=VALUE`: extra variables for a model's own Jinja chat template, as
/// apply_chat_template's keyword arguments (e.g. <c>enable_thinking=false</c> for Qwen3).</summary>
sealed class TemplateVariables
{
    readonly Option<string[]> option = new("--template-var")
    {
        Description = "NAME=VALUE for the model's own Jinja chat template (repeatable; e.g. enable_thinking=false). " +
                      "true/false, numbers and none are read as such, anything else as text.",
        AllowMultipleArgumentsPerToken = false,
    };

    public void AddTo(Command command) => command.Options.Add(option);

    /// <summary>The template with the variables given on the command line (unchanged when none are).</summary>
    public ChatTemplate Apply(ParseResult parse, ChatTemplate template) => template.WithVariables(Read(parse));

    Dictionary<string, object?> Read(ParseResult parse)
    {
        var variables = new Dictionary<string, object?>();
        foreach (var item in parse.GetValue(option) ?? [])
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new SharpLMException($"--template-var {item}: expected NAME=VALUE");
            variables[item[..eq]] = Value(item[(eq + 1)..]);
        }
        return variables;
    }

    static object? Value(string text) => text switch
    {
        "true" or "True" => true,
        "false" or "False" => false,
        "none" or "None" or "null" => null,
        _ when long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
        _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => text,
    };
}
