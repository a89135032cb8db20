using System.CommandLine;
using System.CommandLine.Help;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Runtime;

// Must run before anything touches libtorch (OpenMP reads it once at load).
NativeEnvironment.Configure();

// A named root rather than RootCommand, whose name would be the assembly's (SharpLM.Cli) in usage lines.
var root = new Command("sharplm", "SharpLM: train tokenizers, pretrain, fine-tune, evaluate and sample Llama-style language models in .NET.")
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
    DataCommand.Create(),
    DemoTaskCommand.Create(),
};
return CommandRunner.Invoke(root, args);
