using System.CommandLine;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Runtime;

// Must run before anything touches libtorch (OpenMP reads it once at load).
NativeEnvironment.Configure();

var root = new RootCommand("SharpLM: train tokenizers, pretrain, fine-tune, evaluate and sample Llama-style language models in .NET.")
{
    TokenizerCommand.Create(),
    PretrainCommand.Create(),
    GenerateCommand.Create(),
    EvalCommand.Create(),
    MergeCommand.Create(),
    DemoTaskCommand.Create(),
};
return CommandRunner.Invoke(root, args);
