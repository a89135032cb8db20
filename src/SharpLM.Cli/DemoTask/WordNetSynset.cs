namespace SharpLM.Cli.DemoTask;

/// <summary>One synset from a WordNet <c>data.&lt;pos&gt;</c> file: its byte offset, part of speech, the words in it
/// (spelled as in the file, e.g. <c>Abraham</c> or <c>true_cat</c>, adjective markers such as <c>(p)</c> removed)
/// and its gloss (definition, then example sentences in quotes).</summary>
sealed record WordNetSynset(long Offset, PartOfSpeech PartOfSpeech, IReadOnlyList<string> Words, string Gloss, long Line);
