namespace SharpLM.Cli.DemoTask;

/// <summary>The two questions the demo task asks about a word.</summary>
enum DemoTaskKind
{
    /// <summary>"How is "cat" (c a t) pronounced?" answered with CMUdict's ARPAbet phones.</summary>
    Pronunciation,

    /// <summary>"What does "cat" mean?" answered with the definition of WordNet's first sense.</summary>
    Meaning,
}
