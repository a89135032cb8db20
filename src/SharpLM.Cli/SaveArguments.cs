using System.CommandLine;
using SharpLM.Formats;

namespace SharpLM.Cli;

/// <summary>How commands that write a full model folder (pretrain, finetune, merge) save its weights.</summary>
sealed class SaveArguments
{
    readonly Option<SafetensorsDType> dtype = new("--save-dtype")
    {
        Description = "Tensor type of the saved model: F32 (every bit of training), BF16 or F16 (half the size). Checkpoints for --resume stay F32.",
        DefaultValueFactory = _ => SafetensorsDType.F32,
    };
    readonly Option<string> maxShardSize = new("--max-shard-size")
    {
        Description = "Split weights larger than this into model-0000i-of-0000N.safetensors shards plus an index, as Hugging Face does (e.g. 500MB, 2GB).",
        DefaultValueFactory = _ => "5GB",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(dtype);
        command.Options.Add(maxShardSize);
    }

    /// <summary>True when the user gave either option (rather than taking the defaults).</summary>
    public bool Given(ParseResult p) => p.GetResult(dtype) is { Implicit: false } || p.GetResult(maxShardSize) is { Implicit: false };

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
        var options = new ModelSaveOptions { DType = p.GetValue(dtype), MaxShardBytes = maxShardBytes };
        if (!ModelSaveOptions.SupportedDTypes.Contains(options.DType))
            throw new SharpLMException($"--save-dtype {options.DType}: expected {string.Join(", ", ModelSaveOptions.SupportedDTypes)}");
        return options;
    }

    /// <summary>What periodic checkpoints use: the same shards, but F32, so that --resume continues exactly.</summary>
    public static ModelSaveOptions ForCheckpoints(ModelSaveOptions final) => final with { DType = SafetensorsDType.F32 };
}
