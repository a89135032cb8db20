namespace SharpLM.Training;

/// <summary>The preference losses, as Hugging Face TRL defines them.</summary>
public enum PreferenceLoss
{
    /// <summary>DPO: <c>-log sigmoid(beta * delta)</c>, where delta is the chosen completion's log-probability ratio
    /// (policy over reference) minus the rejected one's; with label smoothing e, conservative DPO:
    /// <c>-(1 - e) log sigmoid(beta * delta) - e log sigmoid(-beta * delta)</c>.</summary>
    Sigmoid,

    /// <summary>IPO: <c>(delta' - 1 / (2 beta))^2</c>, where delta' takes each side's ratio per completion token.</summary>
    Ipo,
}

/// <summary>Settings of preference training (<see cref="DpoObjective"/>).</summary>
public sealed record PreferenceOptions
{
    /// <summary>How far the policy may move from the reference: the scale of the implicit reward (DPO), or the
    /// regularisation (IPO's tau). TRL's default.</summary>
    public double Beta { get; init; } = 0.1;

    public PreferenceLoss Loss { get; init; } = PreferenceLoss.Sigmoid;

    /// <summary>Conservative DPO: the assumed probability that a pair's preference is the wrong way round, in [0, 0.5);
    /// 0 = plain DPO. Sigmoid loss only.</summary>
    public double LabelSmoothing { get; init; }

    public void Validate()
    {
        if (!(Beta > 0) || !double.IsFinite(Beta)) throw new SharpLMException($"the DPO beta (Beta) must be a positive number, got {Beta}");
        if (!(LabelSmoothing is >= 0 and < 0.5))
            throw new SharpLMException($"the label smoothing (LabelSmoothing) must be in [0, 0.5), got {LabelSmoothing}");
        if (LabelSmoothing > 0 && Loss != PreferenceLoss.Sigmoid)
            throw new SharpLMException($"LabelSmoothing applies to the {PreferenceLoss.Sigmoid} loss only, not {Loss}");
    }
}
