namespace SharpLM.Adapters;

/// <summary>
/// Low-rank adaptation settings (PEFT's LoraConfig names in comments). Defaults: rank 8, alpha 16 on every linear
/// layer of the blocks, which adapts better than attention-only LoRA at little extra cost, and no dropout: on CPU
/// drawing the random masks costs a large share of each step.
/// </summary>
public sealed record LoraOptions
{
    public static readonly IReadOnlyList<string> AllTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>r: rank of the update B·A.</summary>
    public int Rank { get; init; } = 8;

    /// <summary>lora_alpha: the update is scaled by Alpha / Rank.</summary>
    public double Alpha { get; init; } = 16;

    /// <summary>lora_dropout: dropout on the adapter's input while training.</summary>
    public double Dropout { get; init; }

    /// <summary>target_modules: projection names that get an adapter.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = AllTargets;

    /// <summary>use_rslora: scale by Alpha / sqrt(Rank) instead of Alpha / Rank (rank-stabilised LoRA).</summary>
    public bool UseRsLora { get; init; }

    /// <summary>use_dora: weight-decomposed LoRA (DoRA): a trained magnitude per output row times the direction of
    /// W + scaling * B A.</summary>
    public bool UseDora { get; init; }

    public double Scaling => UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    public void Validate()
    {
        if (Rank < 1) throw new SharpLMException($"LoRA rank (r) must be at least 1, got {Rank}");
        if (Alpha <= 0) throw new SharpLMException($"LoRA alpha (lora_alpha) must be positive, got {Alpha}");
        if (Dropout is < 0 or >= 1) throw new SharpLMException($"LoRA dropout (lora_dropout) must be in [0, 1), got {Dropout}");
        if (TargetModules.Count == 0) throw new SharpLMException("LoRA needs at least one target module (target_modules)");
        foreach (var t in TargetModules)
            if (!AllTargets.Contains(t) && t != "lm_head")
                throw new SharpLMException($"unknown LoRA target module \"{t}\" (expected some of: {string.Join(", ", AllTargets)}, lm_head)");
    }
}
