using System.CommandLine;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Runtime;

// Must run before anything touches libtorch (OpenMP reads it once at load).
NativeEnvironment.Configure();
// Logs written to files or pipes should not wrap tables and messages at 80 columns.
if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 160;

var root = new RootCommand("SharpLM: train tokenizers, pretrain, fine-tune, evaluate and sample Llama-style language models in .NET.")
{
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
    DataCommand.Create(),
    DemoTaskCommand.Create(),
};
return CommandRunner.Invoke(root, args);
