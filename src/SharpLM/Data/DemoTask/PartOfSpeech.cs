namespace SharpLM.Data.DemoTask;

/// <summary>WordNet's four parts of speech; adjective satellites count as adjectives.</summary>
public enum PartOfSpeech
{
    Noun,
    Verb,
    Adjective,
    Adverb,
}
