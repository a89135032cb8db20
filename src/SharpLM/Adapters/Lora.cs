using SharpLM.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Adapters;

/// <summary>Adds LoRA adapters to a model, merges them into its weights, or removes them.</summary>
public static class Lora
{
    /// <summary>
    /// Freezes every base parameter and attaches a fresh adapter to each target projection, so that only the adapters
    /// are trainable. Returns the adapter parameters, named as in the state dict.
    /// </summary>
    public static List<(string Name, Parameter Parameter)> Apply(LlamaForCausalLM model, LoraOptions options, long seed)
    {
        options.Validate();
        foreach (var p in model.parameters()) p.requires_grad = false;
        var generator = new Generator((ulong)seed);
        var targets = Targets(model, options.TargetModules).ToList();
        if (targets.Count == 0) throw new SharpLMException("none of the LoRA target modules exist in this model");
        foreach (var (_, projection) in targets)
            projection.Attach(new LoraAdapter(projection, options, generator, model.model.embed_tokens.weight!.dtype));
        return [.. model.named_parameters().Where(p => p.parameter.requires_grad)];
    }

    /// <summary>Projections whose last name part is one of <paramref name="targets"/>.</summary>
    public static IEnumerable<(string Name, Projection Module)> Targets(LlamaForCausalLM model, IReadOnlyList<string> targets) =>
        model.Projections().Where(p => targets.Contains(p.Name[(p.Name.LastIndexOf('.') + 1)..]) && !p.Name.Contains(Projection.LoraInfix));

    /// <summary>Adapters attached to the model, by projection name.</summary>
    public static IEnumerable<(string Name, Projection Module, LoraAdapter Adapter)> Adapters(LlamaForCausalLM model) =>
        model.Projections().Where(p => p.Module.Adapter is LoraAdapter).Select(p => (p.Name, p.Module, (LoraAdapter)p.Module.Adapter!));

    /// <summary>Folds every adapter into its projection's weight (W += scaling * B A; for DoRA, the rows of that
    /// rescaled to their magnitudes) and detaches it: the model then computes what base + adapter computed, with no
    /// adapter cost.</summary>
    public static void Merge(LlamaForCausalLM model)
    {
        using var noGrad = no_grad();
        foreach (var (_, projection, adapter) in Adapters(model).ToList())
        {
            using var scope = NewDisposeScope();
            projection.weight.copy_(adapter.MergedWeight().to(projection.weight.dtype));
            projection.Detach();
        }
        foreach (var p in model.parameters()) p.requires_grad = true;
    }

    /// <summary>Detaches every adapter without merging (back to the base model).</summary>
    public static void Remove(LlamaForCausalLM model)
    {
        foreach (var (_, projection, _) in Adapters(model).ToList()) projection.Detach();
        foreach (var p in model.parameters()) p.requires_grad = true;
    }
}
