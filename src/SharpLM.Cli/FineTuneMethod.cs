using System.CommandLine;
using SharpLM.Adapters;
using SharpLM.Chat;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tokenization;
using SharpLM.Training;
using TorchSharp.Modules;

namespace SharpLM.Cli;

public enum FineTuneMethodKind { Full, Freeze, Lora, Dora }

static class FineTuneMethodKinds
{
    /// <summary>LoRA and DoRA train an adapter over a frozen base and save the adapter only.</summary>
    public static bool TrainsAdapter(this FineTuneMethodKind kind) => kind is FineTuneMethodKind.Lora or FineTuneMethodKind.Dora;
}

public enum BaseDtype { Float32, BFloat16 }

/// <summary>The `finetune` options that choose what is trained (full, freeze, LoRA) and how the result is saved.</summary>
sealed class FineTuneMethod
{
    readonly Option<FineTuneMethodKind> method = new("--method")
    {
        Description = "Full: train every weight. Freeze: only --train-last-layers / --train-modules. Lora: low-rank adapters, base frozen. " +
                      "Dora: weight-decomposed LoRA (a trained magnitude per output row of each adapted weight).",
        DefaultValueFactory = _ => FineTuneMethodKind.Lora,
    };
    readonly Option<int> rank = new("--lora-rank", "--lora-r") { Description = "LoRA rank r.", DefaultValueFactory = _ => 8 };
    readonly Option<double> alpha = new("--lora-alpha")
    {
        Description = "LoRA alpha (the update is scaled by alpha / r).",
        DefaultValueFactory = _ => 16,
    };
    readonly Option<double> dropout = new("--lora-dropout")
    {
        Description = "Dropout on the adapter input while training (0 = off, the fast default; 0.05-0.1 regularises small data sets).",
        DefaultValueFactory = _ => 0.0,
    };
    readonly Option<string> targets = new("--lora-targets")
    {
        Description = "Comma-separated projections to adapt.",
        DefaultValueFactory = _ => string.Join(",", LoraOptions.AllTargets),
    };
    readonly Option<int> lastLayers = new("--train-last-layers") { Description = "Freeze method: train the last N decoder blocks." };
    readonly Option<string> modules = new("--train-modules")
    {
        Description = "Freeze method: also train these, comma-separated (lm_head, norm, embed_tokens, mlp, self_attn).",
        DefaultValueFactory = _ => "",
    };

    readonly Option<BaseDtype> baseDtype = new("--base-dtype")
    {
        Description = "LoRA and DoRA: the type the frozen base's projection weights are kept in. BFloat16 halves their memory and runs their " +
                      "matmuls in bf16; the adapters and their optimiser state stay Float32.",
        DefaultValueFactory = _ => BaseDtype.Float32,
    };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { method, rank, alpha, dropout, targets, lastLayers, modules, baseDtype }) command.Options.Add(o);
    }

    /// <summary>The frozen base's type under LoRA; refused with another method, whose base is trained.</summary>
    public BaseDtype BaseType(ParseResult p) => p.GetValue(baseDtype) is var type && type != BaseDtype.Float32 && !Kind(p).TrainsAdapter()
        ? throw new SharpLMException("--base-dtype applies to --method lora and dora only: full and freeze fine-tuning train the base itself")
        : type;

    public FineTuneMethodKind Kind(ParseResult p) => p.GetValue(method);

    /// <param name="addedTokens">tokens were added to the model: the head is adapted too, so that it can learn to
    /// predict them (a new head row starts at the mean of the others, which never scores highest)</param>
    public LoraOptions Lora(ParseResult p, AddedTokenRows? addedTokens) => new()
    {
        Rank = p.GetValue(rank),
        Alpha = p.GetValue(alpha),
        Dropout = p.GetValue(dropout),
        TargetModules = [.. List(p, targets).Union(addedTokens is null ? [] : ["lm_head"])],
        UseDora = Kind(p) == FineTuneMethodKind.Dora,
    };

    /// <summary>Prepares the model for the method and returns the parameters it trains. With
    /// <paramref name="addedTokens"/>, the rows of the added tokens are trained as well (see <see cref="Lora"/>).</summary>
    public List<(string Name, Parameter Parameter)> Prepare(ParseResult p, LlamaForCausalLM model, TrainingOptions options,
        AddedTokenRows? addedTokens) => Kind(p) switch
    {
        FineTuneMethodKind.Full => [.. model.named_parameters()],
        FineTuneMethodKind.Freeze => Freeze.Apply(model, new FreezeOptions
        {
            LastLayers = p.GetValue(lastLayers),
            Modules = [.. List(p, modules).Union(addedTokens is null ? [] : ["embed_tokens", "lm_head"])],
        }),
        _ => ApplyLora(p, model, Lora(p, addedTokens), options.Seed),
    };

    List<(string Name, Parameter Parameter)> ApplyLora(ParseResult p, LlamaForCausalLM model, LoraOptions lora, long seed)
    {
        if (BaseType(p) == BaseDtype.BFloat16) FrozenBase.Store(model, TorchSharp.torch.ScalarType.BFloat16);
        return Adapters.Lora.Apply(model, lora, seed);
    }

    static string[] List(ParseResult p, Option<string> option) =>
        p.GetValue(option)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>What a checkpoint or the final folder holds: the whole model, or only the adapter (with the
    /// tokenizer, template and generation defaults, so the folder is usable on its own with its base).</summary>
    /// <param name="save">how a full model's weights are written (adapters are always F32)</param>
    /// <param name="addedTokens">rows added to the base for new tokens: an adapter records them</param>
    /// <param name="baseFolder">the base model's folder, whose companion files are copied</param>
    /// <param name="baseName">the base as the user named it (a folder or a Hub id): an adapter's config names it</param>
    public CheckpointManager.ModelContent Content(ParseResult p, ITokenizer tokenizer, ChatTemplate template, GenerationConfig generation,
        string baseFolder, string baseName, ModelSaveOptions save, AddedTokenRows? addedTokens)
    {
        if (!Kind(p).TrainsAdapter())
            return new((folder, model) =>
            {
                ModelFolder.Save(folder, model, tokenizer, generation, save);
                ModelFolder.CopyCompanionFiles(folder, baseFolder);
                template.Save(folder);
            }, (folder, model) => ModelFolder.LoadWeightsInto(model, folder));
        var lora = Lora(p, addedTokens);
        return new((folder, model) =>
        {
            AdapterFolder.Save(folder, model, lora, baseName, addedTokens);
            tokenizer.Save(Path.Combine(folder, tokenizer.FileName));
            File.WriteAllText(Path.Combine(folder, ModelFolder.GenerationConfigFile), generation.ToJson() + "\n");
            ModelFolder.CopyCompanionFiles(folder, baseFolder);
            template.Save(folder);
        }, (folder, model) => AdapterFolder.LoadWeightsInto(folder, model));
    }
}
