using System.CommandLine;

namespace SharpLM.Cli;

/// <summary>
/// `--config run.yaml` (or .json): the command's options from a file (<see cref="RunSettingsFile"/>), as if given on the
/// command line, where options given there win. A run folder's own run.yaml is such a file, so a run is repeated with
/// `--config runs/x/run.yaml --output runs/y`.
/// </summary>
sealed class RunConfig : Option<string>
{
    public const string OptionName = "--config";

    public RunConfig() : base(OptionName)
    {
        Description = "A YAML or JSON file of options under their names without the dashes (seq-len: 256, a list for several " +
                      $"values), e.g. a run folder's {RunSettings.FileName}; options given on the command line win.";
        HelpName = "run.yaml";
    }

    /// <summary>The command line completed from the --config file it names; unchanged when it names none (or the command
    /// takes no --config).</summary>
    public static ParseResult Apply(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        if (command.Options.OfType<RunConfig>().FirstOrDefault() is not { } option || parse.GetResult(option) is not { Tokens: [var file] })
            return parse;
        return RunSettingsFile.Read(file.Value, command).Complete(parse);
    }
}
