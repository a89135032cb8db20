using SharpLM.Data;
using Xunit;

namespace SharpLM.Tests.Data.Instructions;

/// <summary>Continued pretraining on plain domain text through the fine-tuning data path.</summary>
public class DomainTextTests
{
    [Fact]
    public void TextFilesAreReadAsTextRecords()
    {
        using var dir = new TempDirectory();
        dir.Write("docs/a.txt", "First domain document.");
        dir.Write("docs/b.md", "# Second\nwith a heading.");
        dir.Write("docs/c.jsonl", """{"text": "third, from JSONL"}""");
        var reader = new InstructionReader(dir.File("docs"));
        var records = reader.Read().ToList();
        Assert.Equal(["First domain document.", "# Second\nwith a heading.", "third, from JSONL"], records.Select(r => r.Text));
        Assert.All(records, r => Assert.Null(r.Conversation));
        Assert.Equal(InstructionFormat.Text, reader.Stats.Formats[dir.File("docs/a.txt")]);
    }

    [Fact]
    public void LongTextIsCutIntoOverlappingChunksThatTrainEveryTokenOnce()
    {
        var tokenizer = new TestByteTokenizer();
        var example = TemplatedExample.FromText(new string('x', 20), tokenizer); // [BOT] + 20 bytes + [EOT] = 22 tokens
        var chunks = example.Chunks(8).ToList();
        Assert.Equal([9, 9, 6], chunks.Select(c => c.Ids.Length));
        Assert.All(chunks, c => Assert.False(c.Trained[0]));
        // Chunks overlap by one token, so together they train each of the 21 targets exactly once.
        Assert.Equal(example.TrainedTokens, chunks.Sum(c => c.TrainedTokens));
        Assert.Equal(example.Ids, chunks[0].Ids.Concat(chunks[1].Ids.Skip(1)).Concat(chunks[2].Ids.Skip(1)));
        Assert.Same(example, example.Chunks(30).Single());
    }
}
