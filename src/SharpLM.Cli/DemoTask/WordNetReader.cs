using System.Globalization;

namespace SharpLM.Cli.DemoTask;

/// <summary>
/// Reads the WordNet database files described in Princeton's wndb(5WN) and senseidx(5WN) manual pages:
/// <c>index.sense</c> (<c>lemma%ss_type:lex_filenum:lex_id:head_word:head_id synset_offset sense_number tag_cnt</c>)
/// and <c>data.noun|verb|adj|adv</c> (one synset per line, found by its byte offset). The licence text at the top
/// of the data files (lines starting with two spaces) is skipped.
/// </summary>
static class WordNetReader
{
    public const string SenseIndexFile = "index.sense";

    public static string DataFile(PartOfSpeech pos) => pos switch
    {
        PartOfSpeech.Noun => "data.noun",
        PartOfSpeech.Verb => "data.verb",
        PartOfSpeech.Adjective => "data.adj",
        PartOfSpeech.Adverb => "data.adv",
        _ => throw new ArgumentOutOfRangeException(nameof(pos)),
    };

    public static IEnumerable<WordNetSense> ReadSenseIndex(string path)
    {
        foreach (var line in SourceLines.Read(path))
        {
            if (IsLicenceOrBlank(line.Text)) continue;
            yield return ParseSense(line, $"{path}:{line.Number}");
        }
    }

    static WordNetSense ParseSense(SourceLine line, string where)
    {
        var fields = line.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 4)
            throw new SharpLMException($"{where}: expected 4 fields (sense_key synset_offset sense_number tag_cnt), got {fields.Length}");
        string key = fields[0];
        int percent = key.IndexOf('%');
        if (percent <= 0 || percent + 1 >= key.Length)
            throw new SharpLMException($"{where}: sense key \"{key}\" is not of the form lemma%ss_type:...");
        var pos = key[percent + 1] switch
        {
            '1' => PartOfSpeech.Noun,
            '2' => PartOfSpeech.Verb,
            '3' or '5' => PartOfSpeech.Adjective, // 5: adjective satellite
            '4' => PartOfSpeech.Adverb,
            _ => throw new SharpLMException($"{where}: sense key \"{key}\" has synset type '{key[percent + 1]}', expected 1-5"),
        };
        return new WordNetSense(key[..percent], pos,
            Offset(fields[1], where),
            Number(fields[2], "sense_number", where, min: 1),
            Number(fields[3], "tag_cnt", where, min: 0),
            line.Number);
    }

    /// <summary>The synsets of one data file, each checked to sit at the byte offset it names
    /// (a copy with converted line endings would otherwise point every lookup at the wrong line).</summary>
    public static IEnumerable<WordNetSynset> ReadSynsets(string path, PartOfSpeech pos)
    {
        foreach (var line in SourceLines.Read(path))
        {
            if (IsLicenceOrBlank(line.Text)) continue;
            yield return ParseSynset(line, pos, $"{path}:{line.Number}");
        }
    }

    // synset_offset lex_filenum ss_type w_cnt (word lex_id)... p_cnt (ptr offset pos source/target)... [frames] | gloss
    static WordNetSynset ParseSynset(SourceLine line, PartOfSpeech pos, string where)
    {
        int bar = line.Text.IndexOf(" | ", StringComparison.Ordinal);
        if (bar < 0) throw new SharpLMException($"{where}: no \" | \" before the gloss");
        var fields = line.Text[..bar].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 4) throw new SharpLMException($"{where}: expected synset_offset lex_filenum ss_type w_cnt before the words");

        long offset = Offset(fields[0], where);
        if (offset != line.Offset)
            throw new SharpLMException($"{where}: synset offset {fields[0]} does not match its byte offset {line.Offset} in the file " +
                                       "(line endings converted, or the file edited?)");
        var type = fields[2];
        bool typeMatches = pos == PartOfSpeech.Adjective ? type is "a" or "s" : type == TypeLetter(pos);
        if (!typeMatches) throw new SharpLMException($"{where}: synset type \"{type}\" in a {pos.ToString().ToLowerInvariant()} file");

        int wordCount = Hex(fields[3], "w_cnt", where);
        int next = 4;
        var words = new List<string>(wordCount);
        for (int i = 0; i < wordCount; i++, next += 2)
        {
            if (next + 1 >= fields.Length) throw new SharpLMException($"{where}: w_cnt is {wordCount} but only {i} words follow");
            words.Add(WithoutAdjectiveMarker(fields[next]));
            Hex(fields[next + 1], "lex_id", where);
        }
        if (next >= fields.Length) throw new SharpLMException($"{where}: p_cnt missing after the words");
        int pointers = Number(fields[next++], "p_cnt", where, min: 0);
        next += 4 * pointers;
        if (pos == PartOfSpeech.Verb && next < fields.Length)
            next += 1 + 3 * Number(fields[next], "f_cnt", where, min: 0);
        if (next != fields.Length)
            throw new SharpLMException($"{where}: {fields.Length} fields before the gloss, " +
                                       $"but w_cnt and p_cnt{(pos == PartOfSpeech.Verb ? " and f_cnt" : "")} account for {next}");
        return new WordNetSynset(offset, pos, words, line.Text[(bar + 3)..].Trim(), line.Number);
    }

    static string TypeLetter(PartOfSpeech pos) => pos switch
    {
        PartOfSpeech.Noun => "n",
        PartOfSpeech.Verb => "v",
        PartOfSpeech.Adjective => "a",
        _ => "r",
    };

    // Adjectives may carry a syntactic marker: (a) attributive, (p) predicative, (ip) immediately postnominal.
    static string WithoutAdjectiveMarker(string word)
    {
        foreach (var marker in (ReadOnlySpan<string>)["(a)", "(p)", "(ip)"])
            if (word.EndsWith(marker, StringComparison.Ordinal)) return word[..^marker.Length];
        return word;
    }

    static bool IsLicenceOrBlank(string text) => text.StartsWith("  ", StringComparison.Ordinal) || text.Trim().Length == 0;

    static long Offset(string field, string where) =>
        field.Length == 8 && long.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new SharpLMException($"{where}: synset offset \"{field}\" is not an 8-digit number");

    static int Number(string field, string name, string where, int min) =>
        int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= min
            ? value
            : throw new SharpLMException($"{where}: {name} \"{field}\" is not a number >= {min}");

    static int Hex(string field, string name, string where) =>
        int.TryParse(field, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new SharpLMException($"{where}: {name} \"{field}\" is not a hexadecimal number");
}
