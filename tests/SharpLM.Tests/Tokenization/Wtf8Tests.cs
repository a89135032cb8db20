using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Tokenization;

public class Wtf8Tests
{
    // A Fact, not a Theory: xunit's theory-data serialization replaces lone surrogates with U+FFFD.
    [Fact]
    public void RoundTripsAnyString()
    {
        foreach (var text in new[] { "plain ascii", "é 中 😀", "\uD800", "a\uDFFFb", "\uDBFF\uDBFF\uDC00", "\uDC00\uD800" })
            Assert.Equal(text, Wtf8.Decode(Wtf8.Encode(text)));
    }

    [Fact]
    public void ValidTextIsPlainUtf8()
    {
        const string text = "naïve 😀 中文";
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(text), Wtf8.Encode(text));
    }

    [Fact]
    public void LoneSurrogateUsesItsThreeByteForm()
    {
        Assert.Equal(new byte[] { 0xED, 0xA0, 0x80 }, Wtf8.Encode("\uD800"));
        Assert.Equal(new byte[] { 0x61, 0xED, 0xBF, 0xBF }, Wtf8.Encode("a\uDFFF"));
    }

    [Theory]
    [InlineData(new byte[] { 0xFF }, "\uFFFD")]
    [InlineData(new byte[] { 0x61, 0xC3 }, "a\uFFFD")]
    [InlineData(new byte[] { 0xC0, 0xAF }, "\uFFFD\uFFFD")]
    [InlineData(new byte[] { 0xE4, 0xB8, 0x61 }, "\uFFFDa")]
    [InlineData(new byte[] { 0xF0, 0x9F, 0x98 }, "\uFFFD")]
    [InlineData(new byte[] { 0xED, 0xA0 }, "\uFFFD\uFFFD")]
    public void InvalidBytesBecomeReplacementCharacters(byte[] bytes, string expected) =>
        Assert.Equal(expected, Wtf8.Decode(bytes));
}
