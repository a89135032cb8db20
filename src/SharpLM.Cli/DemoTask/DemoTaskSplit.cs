namespace SharpLM.Cli.DemoTask;

/// <summary>Where a word's examples go: trained on, held out for loss, or held out for generation exact match.</summary>
// Public because a test theory takes it as a parameter.
public enum DemoTaskSplit
{
    Train,
    Valid,
    Test,
}
