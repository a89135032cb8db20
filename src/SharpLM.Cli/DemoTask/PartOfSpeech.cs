namespace SharpLM.Cli.DemoTask;

/// <summary>WordNet's four parts of speech; adjective satellites count as adjectives.</summary>
enum PartOfSpeech
{
    Noun,
    Verb,
    Adjective,
    Adverb,
}
