using System.CommandLine;
using SharpLM.Formats;
using SharpLM.Hub;

namespace SharpLM.Cli;

/// <summary>How commands that write a full model folder (pretrain, finetune, merge) save its weights.</summary>
sealed class SaveArguments
{
    readonly Option<string> dtype = new("--save-dtype")
    {
        Description = "Tensor type of the saved model: F32 (every bit), BF16 or F16 (half the size). Training checkpoints for --resume stay F32.",
        HelpName = "F32|BF16|F16",
        DefaultValueFactory = _ => "F32",
    };
    readonly Option<string> maxShardSize = new("--max-shard-size")
    {
        Description = "Split weights larger than this into model-0000i-of-0000N.safetensors shards plus an index, as Hugging Face does " +
                      "(e.g. 500MB, 2GB).",
        DefaultValueFactory = _ => "5GB",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(dtype);
        command.Options.Add(maxShardSize);
    }

    public ModelSaveOptions Read(ParseResult p)
    {
        long maxShardBytes;
        try
        {
            maxShardBytes = ModelSaveOptions.ParseSize(p.GetValue(maxShardSize)!);
        }
        catch (SharpLMException e)
        {
            throw new SharpLMException($"--max-shard-size: {e.Message}");
        }
        var name = p.GetValue(dtype)!;
        var type = ModelSaveOptions.SupportedDTypes.Where(t => t.ToString().Equals(name, StringComparison.OrdinalIgnoreCase)).ToList();
        if (type.Count == 0)
            throw new SharpLMException($"--save-dtype {name}: expected {string.Join(", ", ModelSaveOptions.SupportedDTypes)}");
        return new ModelSaveOptions { DType = type[0], MaxShardBytes = maxShardBytes };
    }

    /// <summary>What periodic checkpoints use: the same shards, but F32, so that --resume continues exactly.</summary>
    public static ModelSaveOptions ForCheckpoints(ModelSaveOptions final) => final with { DType = SafetensorsDType.F32 };
}
