namespace SharpLM.Data.DemoTask;

/// <summary>Where a word's examples go: trained on, held out for loss, or held out for generation exact match.</summary>
public enum DemoTaskSplit
{
    Train,
    Valid,
    Test,
}
