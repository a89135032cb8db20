namespace SharpLM.Cli.DemoTask;

/// <summary>
/// Reads the CMU Pronouncing Dictionary text format: one entry per line, the word, two spaces, then ARPAbet
/// phones separated by single spaces (<c>CAT  K AE1 T</c>); alternates are written <c>READ(1)  R IY1 D</c>.
/// Lines starting with <c>;;;</c> are comments (the upstream file has them, the stdlib package does not) and
/// blank lines are skipped. Every phone is checked against the ARPAbet set the dictionary uses.
/// </summary>
static class CmudictReader
{
    // The 39 phonemes of CMUdict: vowels carry a stress digit (0 none, 1 primary, 2 secondary), consonants none.
    static readonly HashSet<string> Vowels = ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"];
    static readonly HashSet<string> Consonants =
        ["B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH"];

    public static IEnumerable<CmudictEntry> Read(string path)
    {
        foreach (var line in SourceLines.Read(path))
        {
            if (string.IsNullOrWhiteSpace(line.Text) || line.Text.StartsWith(";;;", StringComparison.Ordinal)) continue;
            yield return Parse(line.Text, $"{path}:{line.Number}", line.Number);
        }
    }

    static CmudictEntry Parse(string text, string where, long lineNumber)
    {
        int gap = text.IndexOf("  ", StringComparison.Ordinal);
        if (gap <= 0)
            throw new SharpLMException($"{where}: expected WORD, two spaces, then phones (e.g. \"CAT  K AE1 T\"), got \"{text}\"");
        string word = text[..gap];
        string phones = text[(gap + 2)..];
        if (word.Contains(' ') || word.Contains('\t')) throw new SharpLMException($"{where}: the word \"{word}\" contains whitespace");

        int variant = 0;
        if (word.EndsWith(')'))
        {
            int open = word.LastIndexOf('(');
            if (open <= 0 || !int.TryParse(word.AsSpan(open + 1, word.Length - open - 2), out variant) || variant < 1)
                throw new SharpLMException($"{where}: malformed variant suffix in \"{word}\" (expected WORD(n) with n >= 1)");
            word = word[..open];
        }

        if (phones.Length == 0) throw new SharpLMException($"{where}: \"{word}\" has no phones");
        foreach (var phone in phones.Split(' '))
        {
            if (!IsPhone(phone))
                throw new SharpLMException(phone.Length == 0
                    ? $"{where}: phones of \"{word}\" must be separated by single spaces"
                    : $"{where}: \"{phone}\" in the pronunciation of \"{word}\" is not an ARPAbet phone");
        }
        return new CmudictEntry(word, variant, phones, lineNumber);
    }

    static bool IsPhone(string phone)
    {
        if (Consonants.Contains(phone)) return true;
        // The package's symbol list also has vowels without stress; the dictionary itself always marks it.
        if (phone.Length > 0 && phone[^1] is '0' or '1' or '2') phone = phone[..^1];
        return Vowels.Contains(phone);
    }
}
