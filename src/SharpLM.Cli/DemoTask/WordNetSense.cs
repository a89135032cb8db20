namespace SharpLM.Cli.DemoTask;

/// <summary>One line of WordNet's <c>index.sense</c>: a lemma's sense, the byte offset of its synset in
/// <c>data.&lt;pos&gt;</c>, its sense number (1 = most frequent in the sense-tagged corpora) and how often it
/// was tagged there (<paramref name="TagCount"/>, SemCor-based; 0 for most senses).</summary>
sealed record WordNetSense(string Lemma, PartOfSpeech PartOfSpeech, long SynsetOffset, int SenseNumber, int TagCount, long Line);
