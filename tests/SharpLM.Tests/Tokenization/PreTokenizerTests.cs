using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

public class PreTokenizerTests
{
    const string Llama3Pattern = PreTokenizer.Llama3Pattern;

    [Fact]
    public void SplitsLikeGpt2()
    {
        Assert.Equal(["Hello", " world", "'s", " ", " test", " 123", "!!", "\n\n"], PreTokenizer.Gpt2.Split("Hello world's  test 123!!\n\n"));
        Assert.Equal(["IT", "'", "S"], PreTokenizer.Gpt2.Split("IT'S"));
        // \s+(?!\S) leaves the last whitespace character to the next alternative.
        Assert.Equal(["a", "\r", "\n", "b"], PreTokenizer.Gpt2.Split("a\r\nb"));
    }

    [Fact]
    public void TreatsSupplementaryLettersAndDigitsAsOneCodePoint()
    {
        // 𝐀𝐁 are letters (Lu), 𝟎𝟏 digits (Nd), 😀 a symbol; .NET sees each as two surrogates.
        Assert.Equal(["x", " 𝐀𝐁", " 𝟎𝟏", " 😀!", " 𠀀a"], PreTokenizer.Gpt2.Split("x 𝐀𝐁 𝟎𝟏 😀! 𠀀a"));
    }

    [Fact]
    public void LoneSurrogatesArePunctuationLike()
    {
        Assert.Equal(["a", "\uD800", "b", " \uDC00\uDC00"], PreTokenizer.Gpt2.Split("a\uD800b \uDC00\uDC00"));
    }

    [Fact]
    public void RunsLlama3Pattern()
    {
        var llama3 = new PreTokenizer(Llama3Pattern);
        Assert.False(llama3.HasGpt2Pattern);
        Assert.Equal(["123", "45", " xIT", "'S", " ", " hi", "!\n\n"], llama3.Split("12345 xIT'S  hi!\n\n"));
    }

    [Fact]
    public void IsolatesEveryDigitWhenAsked()
    {
        var digits = new PreTokenizer(PreTokenizer.Gpt2Pattern, individualDigits: true);
        // Numeric characters of any kind (Nd, No, Nl; 𝟏 is supplementary) become single pieces.
        Assert.Equal(["a", " ", "1", "2", "x", " ", "½", "Ⅻ", "𝟏", "!"], digits.Split("a 12x ½Ⅻ𝟏!"));
        Assert.Equal(["\uD800", "1", "\uDC00"], digits.Split("\uD8001\uDC00"));
    }

    [Fact]
    public void EveryCharacterLandsInExactlyOnePiece()
    {
        var random = new Random(3);
        var llama3Digits = new PreTokenizer(Llama3Pattern, individualDigits: true);
        for (int n = 0; n < 200; n++)
        {
            var text = new string(Enumerable.Range(0, random.Next(40)).Select(_ => (char)random.Next(0x10000)).ToArray());
            Assert.Equal(text, string.Concat(PreTokenizer.Gpt2.Split(text)));
            Assert.Equal(text, string.Concat(llama3Digits.Split(text)));
        }
    }
}
