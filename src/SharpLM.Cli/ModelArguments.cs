using System.CommandLine;
using SharpLM.Hub;
using Spectre.Console;
using static TorchSharp.torch;

namespace SharpLM.Cli;

/// <summary>Which model to load and in what precision, for commands that run a trained model.</summary>
sealed class ModelArguments
{
    public readonly Option<string> Model = new("--model", "-m")
    {
        Description = "Model folder (Hugging Face layout, e.g. runs/demo/final), a Hub id (org/name[@revision], fetched into the " +
                      "Hugging Face cache), or a LoRA adapter folder whose config names its base.",
        Required = true,
    };
    readonly Option<string?> adapter = new("--adapter")
    {
        Description = "A LoRA adapter folder (PEFT layout) or Hub id to apply on top of --model.",
    };
    readonly Option<bool> ignoreBaseMismatch = new("--ignore-base-mismatch")
    {
        Description = "Load the adapter even if it was trained on a different base model.",
    };
    readonly Option<string> dtype = DTypeOption();
    readonly Option<string> device = DeviceOption.Create();

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(adapter);
        command.Options.Add(ignoreBaseMismatch);
        command.Options.Add(dtype);
        command.Options.Add(device);
    }

    /// <summary>The --device, checked to be there and to fit --dtype: call it before any work.</summary>
    public Device Device(ParseResult p) => CheckQ8OnCpu(p.GetValue(dtype)!, DeviceOption.Read(p, device));

    /// <summary>q8's kernel reads CPU memory: refused with another device before the model loads.</summary>
    public static Device CheckQ8OnCpu(string dtypeText, Device on) =>
        IsQ8(dtypeText) && on.type != TorchSharp.DeviceType.CPU
            ? throw new SharpLMException($"--dtype q8 runs on the CPU only: with {DeviceOption.Name} {Runtime.ComputeDevice.Name(on)} " +
                                         "use --dtype fp32 or bf16")
            : on;

    public ScalarType DType(ParseResult p) => ParseDType(p.GetValue(dtype)!);

    /// <summary>--dtype q8: fp32 weights loaded, then the projections kept in 8 bits for generation.</summary>
    public bool Quantized(ParseResult p) => IsQ8(p.GetValue(dtype)!);

    public static bool IsQ8(string text) => text.Equals("q8", StringComparison.OrdinalIgnoreCase);

    /// <summary>The --dtype option for commands that load models on their own (eval).</summary>
    public static Option<string> DTypeOption() => new("--dtype")
    {
        Description = "Weights in fp32 or bf16 (bf16: half the memory, faster on AVX-512 bf16 CPUs); generate, chat, serve and eval " +
                      "also take q8 (projections in 8 bits with a scale per 32 values, as GGUF's Q8_0: a quarter of the memory, faster decoding).",
        DefaultValueFactory = _ => "fp32",
    };

    public static ScalarType ParseDType(string text) => text.ToLowerInvariant() switch
    {
        "fp32" or "f32" or "float32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "q8" => ScalarType.Float32, // loaded in fp32, then quantised (Quantized)
        var other => throw new SharpLMException($"--dtype {other}: expected fp32, bf16 or q8"),
    };

    /// <summary>How figures computed with these weights are labelled.</summary>
    public static string Label(ScalarType type) => type == ScalarType.BFloat16 ? "bf16" : "fp32";

    public PretrainedModel Load(ParseResult p)
    {
        var on = Device(p);
        var (folder, adapterFolder) = HubInputs.ModelAndAdapter(p.GetValue(Model)!, p.GetValue(adapter));
        PretrainedModel? loaded = null;
        AnsiConsole.Status().Start($"Loading {Markup.Escape(adapterFolder ?? folder)}...", _ =>
            loaded = PretrainedModel.Load(folder, DType(p), adapterFolder, p.GetValue(ignoreBaseMismatch), on));
        if (Quantized(p))
        {
            var count = loaded!.QuantizeForInference();
            AnsiConsole.MarkupLineInterpolated($"[grey]{count} projections in 8 bits (q8)[/]");
        }
        return loaded!;
    }

    /// <summary>The model's name for clients: the Hub id it was given as, else <see cref="PretrainedModel.Id"/>
    /// (a snapshot folder's name is a commit id, which names nothing).</summary>
    public string Id(ParseResult p, PretrainedModel loaded)
    {
        return HubInputs.TryModelId(p.GetValue(adapter) ?? p.GetValue(Model)!, out var repo) ? repo.Id : loaded.Id;
    }
}
