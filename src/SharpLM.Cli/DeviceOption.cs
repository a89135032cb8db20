using System.CommandLine;
using SharpLM.Runtime;
using static TorchSharp.torch;

namespace SharpLM.Cli;

/// <summary>`--device`, one definition for every command that runs a model (pretrain, finetune, generate, chat, serve, eval).</summary>
static class DeviceOption
{
    public const string Name = "--device";

    public static Option<string> Create() => new(Name)
    {
        Description = $"Where the model runs: {ComputeDevice.Accepted}. cuda needs a GPU machine whose build references " +
                      $"{ComputeDevice.CudaPackage} instead of {ComputeDevice.CpuPackage} (see the README).",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary>The device the option names, checked to be there: call it before any work, so a wrong one fails at once.</summary>
    public static Device Read(ParseResult p, Option<string> option) => ComputeDevice.Open(p.GetValue(option)!, Name);
}
