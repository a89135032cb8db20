using System.Text;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

public class ByteLevelBpeTokenizerTests
{
    // GPT-2's bytes_to_unicode, written out independently of ByteLevelAlphabet.
    static List<char> Gpt2ByteChars()
    {
        var self = Enumerable.Range('!', '~' - '!' + 1)
            .Concat(Enumerable.Range('¡', '¬' - '¡' + 1))
            .Concat(Enumerable.Range('®', 'ÿ' - '®' + 1))
            .ToList();
        var chars = self.Select(b => (char)b).ToList();
        int n = 0;
        for (int b = 0; b < 256; b++)
            if (!self.Contains(b)) chars.Add((char)(256 + n++));
        return chars;
    }

    /// <summary>The first ten merges of GPT-2 and the ids GPT-2 gives their tokens, with merges in the
    /// legacy "a b" form; <paramref name="extraVocab"/> adds vocabulary entries. Hugging Face
    /// tokenizers 0.23 gives the ids asserted below for this file.</summary>
    static string Gpt2StyleJson(bool ignoreMerges = false, string extraVocab = "")
    {
        var vocab = new StringBuilder();
        var chars = Gpt2ByteChars();
        for (int i = 0; i < 256; i++) vocab.Append($"\"{(chars[i] == '"' ? "\\\"" : chars[i] == '\\' ? "\\\\" : chars[i].ToString())}\": {i}, ");
        vocab.Append("\"Ġt\": 256, \"Ġa\": 257, \"he\": 258, \"in\": 259, \"re\": 260, \"on\": 261, \"Ġthe\": 262, \"er\": 263, \"Ġs\": 264, " +
                     "\"at\": 265");
        vocab.Append(", \"<|endoftext|>\": 50256");
        vocab.Append(extraVocab);
        return $$"""
        {
          "version": "1.0",
          "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}],
          "normalizer": null,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true},
          "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false},
          "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true},
          "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "", "end_of_word_suffix": "",
            "fuse_unk": false, "ignore_merges": {{(ignoreMerges ? "true" : "false")}},
            "vocab": { {{vocab}} },
            "merges": ["Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r", "Ġ s", "a t"]
          }
        }
        """;
    }

    static ByteLevelBpeTokenizer Gpt2Style(bool ignoreMerges = false, string extraVocab = "") =>
        TokenizerJson.Parse(Encoding.UTF8.GetBytes(Gpt2StyleJson(ignoreMerges, extraVocab)), "gpt2-style.json");

    [Fact]
    public void EncodesGpt2StyleFileAsDerivedByHand()
    {
        var tokenizer = Gpt2Style();
        // Bytes alone: t=83 h=71 e=68 n=77, space Ġ=220 and newline Ċ=198, as in GPT-2.
        Assert.Equal([83, 258], tokenizer.Encode("the"));                  // h e (rank 2); no (t, he) merge
        Assert.Equal([262], tokenizer.Encode(" the"));                     // Ġ t, then h e, then Ġt he
        Assert.Equal([83, 258, 260], tokenizer.Encode("there"));           // h e (2) beats e r (7), then r e (4)
        Assert.Equal([257, 83, 220, 259, 77], tokenizer.Encode(" at inn"));  // Ġ a (1) beats a t (9)
        Assert.Equal([39, 68, 75, 75, 78, 198], tokenizer.Encode("Hello\n"));
        Assert.Equal([262, 50256, 262], tokenizer.Encode(" the<|endoftext|> the", allowSpecial: true));
        Assert.DoesNotContain(50256, tokenizer.Encode(" the<|endoftext|> the"));
        Assert.Equal(50257, tokenizer.VocabSize);
        Assert.Equal(new SpecialTokenIds(null, 50256, 50256, null), tokenizer.Special);
    }

    [Fact]
    public void IgnoreMergesEmitsWholeWordsFoundInTheVocabulary()
    {
        const string extra = ", \"Ġinn\": 266";
        Assert.Equal([220, 259, 77], Gpt2Style(extraVocab: extra).Encode(" inn"));
        Assert.Equal([266], Gpt2Style(ignoreMerges: true, extraVocab: extra).Encode(" inn"));
        Assert.Equal([262], Gpt2Style(ignoreMerges: true, extraVocab: extra).Encode(" the"));
    }

    [Fact]
    public void LooksUpTokensAndIds()
    {
        var tokenizer = Gpt2Style();
        Assert.Equal(262, tokenizer.TokenToId("Ġthe"));
        Assert.Equal(50256, tokenizer.TokenToId("<|endoftext|>"));
        Assert.Null(tokenizer.TokenToId("nope"));
        Assert.Equal("Ġthe", tokenizer.IdToToken(262));
        Assert.Null(tokenizer.IdToToken(300));
        Assert.Null(tokenizer.IdToToken(-1));
        Assert.Equal(" the\n", tokenizer.Decode([262, 198]));
    }

    [Fact]
    public void MatchesNonSpecialAddedTokensAlways()
    {
        var trained = TestCorpus.Tokenizer;
        var tokenizer = new ByteLevelBpeTokenizer(trained.Vocab, trained.Merges,
            trained.AddedTokens.Append(new AddedToken(400, "<sep>", Special: false)).Append(new AddedToken(401, "<sep><sep>", Special: true)));
        Assert.Equal(400, tokenizer.Encode("a<sep>b")[1]);
        Assert.Equal([400, 400], tokenizer.Encode("<sep><sep>"));
        Assert.Equal([401], tokenizer.Encode("<sep><sep>", allowSpecial: true)); // longest match wins
        Assert.Equal("a<sep>b", tokenizer.Decode(tokenizer.Encode("a<sep>b<sep><sep>", allowSpecial: true), skipSpecial: true));
    }

    [Fact]
    public void RejectsInconsistentParts()
    {
        var vocab = new Dictionary<string, int> { ["a"] = 0, ["b"] = 1, ["ab"] = 2 };
        Assert.Contains("model.merges[0]", Assert.Throws<SharpLMException>(() => new ByteLevelBpeTokenizer(vocab, [("a", "c")], [])).Message);
        Assert.Contains("already \"a\"",
            Assert.Throws<SharpLMException>(() => new ByteLevelBpeTokenizer(vocab, [], [new AddedToken(0, "[X]")])).Message);
        Assert.Contains("model.vocab gives it id 2",
            Assert.Throws<SharpLMException>(() => new ByteLevelBpeTokenizer(vocab, [], [new AddedToken(5, "ab")])).Message);
        Assert.Contains("is given to both",
            Assert.Throws<SharpLMException>(() => new ByteLevelBpeTokenizer(new Dictionary<string, int> { ["a"] = 0, ["b"] = 0 }, [], [])).Message);
        Assert.Contains("model.unk_token",
            Assert.Throws<SharpLMException>(() => new ByteLevelBpeTokenizer(vocab, [], [], unkToken: "<unk>")).Message);
    }

    [Fact]
    public void BytesMissingFromTheVocabularyBecomeUnkOrAreDropped()
    {
        var vocab = new Dictionary<string, int> { ["a"] = 0, ["b"] = 1, ["<unk>"] = 2 };
        Assert.Equal([0, 1], new ByteLevelBpeTokenizer(vocab, [], []).Encode("a-b"));
        Assert.Equal([0, 2, 1], new ByteLevelBpeTokenizer(vocab, [], [], unkToken: "<unk>").Encode("a-b"));
    }

    [Fact]
    public void CachedAndFreshEncodingsAgreeAcrossThreads()
    {
        var tokenizer = TestCorpus.Tokenizer;
        var docs = TestCorpus.Documents(50, seed: 99).ToArray();
        var expected = docs.Select(d => tokenizer.Encode(d)).ToArray();
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < docs.Length; i++) Assert.Equal(expected[i], tokenizer.Encode(docs[i]));
        });
    }

    [Fact]
    public void ResolvesConventionalSpecialTokenNames()
    {
        int? Lookup(Dictionary<string, int> ids, string name) => ids.TryGetValue(name, out int id) ? id : null;
        var llama2 = new Dictionary<string, int> { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        Assert.Equal(new SpecialTokenIds(null, 1, 2, 0), SpecialTokenNames.Resolve(n => Lookup(llama2, n)));
        var llama3 = new Dictionary<string, int> { ["<|begin_of_text|>"] = 128000, ["<|end_of_text|>"] = 128001 };
        Assert.Equal(new SpecialTokenIds(null, 128000, 128001, null), SpecialTokenNames.Resolve(n => Lookup(llama3, n)));
        var custom = new Dictionary<string, int> { ["<oov>"] = 5 };
        Assert.Equal(5, SpecialTokenNames.Resolve(n => Lookup(custom, n), unkToken: "<oov>").Unk);
    }
}
