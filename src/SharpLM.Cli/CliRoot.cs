using System.CommandLine;
using System.CommandLine.Help;
using SharpLM.Cli.Commands;

namespace SharpLM.Cli;

/// <summary>The `sharplm` command and all its subcommands.</summary>
static class CliRoot
{
    /// <summary>A named root rather than RootCommand, whose name would be the assembly's (SharpLM.Cli) in usage lines.</summary>
    public static Command Create() => new("sharplm", "SharpLM: train tokenizers, pretrain, fine-tune, " +
                                                     "evaluate and sample Llama-style language models in .NET.")
    {
        new HelpOption(),
        new VersionOption(),
        TokenizerCommand.Create(),
        PretrainCommand.Create(),
        FinetuneCommand.Create(),
        GenerateCommand.Create(),
        ChatCommand.Create(),
        ServeCommand.Create(),
        EvalCommand.Create(),
        MergeCommand.Create(),
        ImportCommand.Create(),
        ExportCommand.Create(),
        DownloadCommand.Create(),
        ReportCommand.Create(),
        DataCommand.Create(),
        DemoTaskCommand.Create(),
    };
}
