using System.Text;
using SharpLM.Cli.DemoTask;

namespace SharpLM.Tests.Cli.DemoTask;

/// <summary>
/// Writes a small WordNet database folder in the real layout. Synset lines are given with a placeholder such
/// as <c>{cat.n}</c> instead of their 8-digit offset; the placeholder is replaced by the line's actual byte offset
/// (as WordNet requires) and the same placeholder in index.sense lines gets the same number.
/// </summary>
sealed class WordNetSample
{
    // The first lines of the real data files: the licence, each line indented by two spaces.
    public static readonly string[] LicenceHeader =
    [
        "  1 This software and database is being provided to you, the LICENSEE, by  ",
        "  2 Princeton University under the following license.  By obtaining, using  ",
        "  3 and/or copying this software and database, you agree that you have  ",
        "  14 WordNet 3.1 Copyright 2011 by Princeton University.  All rights reserved.  ",
        "  15   ",
    ];

    readonly Dictionary<PartOfSpeech, List<string>> synsets = [];
    readonly List<string> senses = [];

    public WordNetSample Synset(PartOfSpeech pos, string line)
    {
        if (!synsets.TryGetValue(pos, out var lines)) synsets[pos] = lines = [];
        lines.Add(line);
        return this;
    }

    public WordNetSample Sense(string line)
    {
        senses.Add(line);
        return this;
    }

    /// <summary>Writes data.noun, data.verb, data.adj, data.adv and index.sense into <paramref name="folder"/>;
    /// returns the offsets given to the placeholders.</summary>
    public Dictionary<string, long> Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var offsets = new Dictionary<string, long>();
        foreach (var pos in Enum.GetValues<PartOfSpeech>())
        {
            var text = new StringBuilder();
            foreach (var line in LicenceHeader) text.Append(line).Append('\n');
            foreach (var line in synsets.GetValueOrDefault(pos) ?? [])
            {
                int close = line.IndexOf('}');
                long offset = Encoding.UTF8.GetByteCount(text.ToString());
                offsets[line[..(close + 1)]] = offset;
                text.Append(offset.ToString("D8")).Append(line[(close + 1)..]).Append('\n');
            }
            File.WriteAllText(Path.Combine(folder, WordNetReader.DataFile(pos)), text.ToString());
        }
        var index = new StringBuilder();
        foreach (var line in senses)
        {
            var resolved = line;
            foreach (var (placeholder, offset) in offsets) resolved = resolved.Replace(placeholder, offset.ToString("D8"));
            index.Append(resolved).Append('\n');
        }
        File.WriteAllText(Path.Combine(folder, WordNetReader.SenseIndexFile), index.ToString());
        return offsets;
    }
}
