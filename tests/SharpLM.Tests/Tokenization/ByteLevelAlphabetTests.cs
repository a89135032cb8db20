using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

public class ByteLevelAlphabetTests
{
    [Fact]
    public void MapsEveryByteToADistinctCharacterAndBack()
    {
        var chars = new HashSet<char>();
        for (int b = 0; b < 256; b++)
        {
            char c = ByteLevelAlphabet.ByteToChar((byte)b);
            Assert.True(chars.Add(c));
            Assert.True(ByteLevelAlphabet.TryCharToByte(c, out byte back));
            Assert.Equal(b, back);
        }
        Assert.False(ByteLevelAlphabet.TryCharToByte(' ', out _));
        Assert.False(ByteLevelAlphabet.TryCharToByte('中', out _));
    }

    [Fact]
    public void MatchesGpt2()
    {
        Assert.Equal('Ġ', ByteLevelAlphabet.ByteToChar((byte)' '));
        Assert.Equal('Ċ', ByteLevelAlphabet.ByteToChar((byte)'\n'));
        Assert.Equal('Ā', ByteLevelAlphabet.ByteToChar(0));
        Assert.Equal('a', ByteLevelAlphabet.ByteToChar((byte)'a'));
        Assert.Equal('ÿ', ByteLevelAlphabet.ByteToChar(0xFF));
    }

    [Fact]
    public void OrderIsByCharacterCodePoint()
    {
        var order = ByteLevelAlphabet.BytesInOrder.ToArray();
        Assert.Equal((byte)'!', order[0]);
        Assert.Equal((byte)' ', order[188 + 32]);
        var codes = order.Select(b => (int)ByteLevelAlphabet.ByteToChar(b)).ToArray();
        Assert.Equal(codes.Order(), codes);
        Assert.Equal(256, order.Distinct().Count());
    }
}
