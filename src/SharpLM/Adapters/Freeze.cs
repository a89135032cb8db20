using System.Text.RegularExpressions;
using SharpLM.Model;
using TorchSharp.Modules;

namespace SharpLM.Adapters;

/// <summary>Which parameters a "freeze" fine-tune trains; everything else is frozen.</summary>
public sealed record FreezeOptions
{
    /// <summary>Train every parameter of the last N decoder blocks.</summary>
    public int LastLayers { get; init; }

    /// <summary>Also train parameters whose dotted name contains one of these parts, e.g. "lm_head", "norm"
    /// (the final norm), "embed_tokens", "mlp", "self_attn".</summary>
    public IReadOnlyList<string> Modules { get; init; } = [];
}

public static partial class Freeze
{
    /// <summary>Freezes all parameters except the chosen ones and returns those, named as in the state dict.</summary>
    public static List<(string Name, Parameter Parameter)> Apply(LlamaForCausalLM model, FreezeOptions options)
    {
        int layers = model.Config.NumHiddenLayers;
        if (options.LastLayers < 0 || options.LastLayers > layers)
            throw new SharpLMException($"FreezeOptions.LastLayers must be between 0 and {layers}, got {options.LastLayers}");
        if (options.LastLayers == 0 && options.Modules.Count == 0)
            throw new SharpLMException("the freeze method needs FreezeOptions.LastLayers and/or FreezeOptions.Modules");
        var trainable = new List<(string Name, Parameter Parameter)>();
        foreach (var (name, p) in model.named_parameters())
        {
            var parts = name.Split('.');
            bool inLastLayers = LayerIndex().Match(name) is { Success: true } m && int.Parse(m.Groups[1].Value) >= layers - options.LastLayers;
            bool named = options.Modules.Any(mod => parts.Contains(mod) || (mod == "norm" && name == "model.norm.weight"));
            p.requires_grad = inLastLayers || named;
            if (p.requires_grad) trainable.Add((name, p));
        }
        var unknown = options.Modules.Where(mod => !model.named_parameters().Any(p => p.name.Split('.').Contains(mod))).ToList();
        if (unknown.Count > 0)
            throw new SharpLMException($"FreezeOptions.Modules: no parameter is named after {string.Join(", ", unknown)} (try lm_head, norm, " +
                                       "embed_tokens, mlp, self_attn)");
        return trainable;
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.")]
    private static partial Regex LayerIndex();
}
