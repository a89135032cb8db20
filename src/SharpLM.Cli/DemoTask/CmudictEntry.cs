namespace SharpLM.Cli.DemoTask;

/// <summary>One pronunciation from CMUdict. <paramref name="Word"/> is spelled as in the file (upper case) without
/// the variant suffix; <paramref name="Variant"/> is 0 for the main pronunciation and n for an alternate written
/// <c>WORD(n)</c>. <paramref name="Phones"/> are ARPAbet symbols separated by single spaces, e.g. <c>K AE1 T</c>.</summary>
sealed record CmudictEntry(string Word, int Variant, string Phones, long Line);
