using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Formats;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Tokenization;
using SharpLM.Tokenization;
using SharpLM.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace SharpLM.Tests.Interop;

/// <summary>A small model and BPE tokenizer trained once, exported as GGUF in each tensor type.</summary>
public sealed class TrainedGgufFixture : IDisposable
{
    readonly TempDirectory dir = new();

    public TrainedGgufFixture()
    {
        // The special tokens `sharplm tokenizer train` gives, ChatML's markers included.
        Tokenizer = new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = 400, SpecialTokens = [.. BpeTrainerOptions.DefaultSpecialTokens, .. BpeTrainerOptions.ChatMlMarkers],
        }).Train(TestCorpus.Documents(300));
        Model = new LlamaForCausalLM(new LlamaConfig
        {
            // More embedding rows than tokens (padded in the GGUF vocabulary); 176 is not a multiple of Q8_0's 32.
            VocabSize = 416, MaxPositionEmbeddings = 128, HiddenSize = 64, IntermediateSize = 176,
            NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2,
        });
        Model.InitializeWeights(3);
        var documents = TestCorpus.Documents(300, seed: 9).Select(d => Tokenizer.Encode(d));
        var special = Tokenizer.Special;
        var data = PretrainingDataset.Build(documents, 64, RowMode.Packed, special.Bos!.Value, special.Eos!.Value, special.Pad!.Value);
        using (var trainer = new Trainer(Model, data, null, new TrainingOptions
               {
                   BatchSize = 8, MaxSteps = 250, WarmupSteps = 20, LearningRate = 3e-3,
               }))
            trainer.Run();
        Model.eval();

        ModelFolder.Save(dir.File("model"), Model, Tokenizer);
        // A fine-tune's default template for this tokenizer; the GGUF carries it as tokenizer.chat_template.
        ChatTemplates.DefaultFor(Tokenizer).Save(dir.File("model"));
        foreach (var type in Enum.GetValues<GgufTensorType>())
            GgufExporter.Export(dir.File("model"), Gguf(type), type);
    }

    public ByteLevelBpeTokenizer Tokenizer { get; }
    public LlamaForCausalLM Model { get; }

    public string Gguf(GgufTensorType type) => dir.File($"model-{type}.gguf");

    public void Dispose()
    {
        Model.Dispose();
        dir.Dispose();
    }
}

/// <summary>llama.cpp itself (via LLamaSharp) runs SharpLM's GGUF exports and agrees with SharpLM.</summary>
[Collection(LlamaCppCollection.Name)]
public sealed class GgufLlamaCppTests(TrainedGgufFixture trained, ITestOutputHelper output) : IClassFixture<TrainedGgufFixture>
{
    static readonly string[] Texts =
    [
        "the model learns to predict the next token",
        "Hello World! it's 2024, we'll see.\n\nnext paragraph",
        "  leading spaces,   inner   runs and trailing  ",
        "café naïve — ok? 123456 tabs\there\r\nand CRLF",
    ];

    int[] Prompt(string text) => [trained.Tokenizer.Special.Bos!.Value, .. trained.Tokenizer.Encode(text)];

    int[] SharpLmGreedy(int[] prompt, int count) =>
        new TokenGenerator(trained.Model)
            .Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = count, StopAtEos = false }, new HashSet<int>())
            .ToArray();

    float[] SharpLmLogits(int[] ids) => TestModels.LastLogits(trained.Model, ids);

    [Fact]
    public void F32GreedyContinuationsAgreeTokenForToken()
    {
        using var llama = new LlamaCppModel(trained.Gguf(GgufTensorType.F32));
        Assert.Equal(trained.Model.Config.VocabSize, llama.VocabSize);
        foreach (var text in Texts[..2])
        {
            var prompt = Prompt(text);
            var expected = SharpLmGreedy(prompt, 48);
            Assert.Equal(expected, llama.Greedy(prompt, 48));
            output.WriteLine($"{text}: {trained.Tokenizer.Decode(expected)}");
        }
    }

    [Fact]
    public void F32NextTokenLogitsAgree()
    {
        using var llama = new LlamaCppModel(trained.Gguf(GgufTensorType.F32));
        foreach (var text in Texts)
        {
            var prompt = Prompt(text);
            var (difference, scale) = Compare(SharpLmLogits(prompt), llama.Logits(prompt));
            output.WriteLine($"{prompt.Length} tokens: max |diff| {difference:E2}, max |logit| {scale:F2}");
            // Both compute in fp32 (llama.cpp with an fp32 KV cache and no flash attention): rounding-level differences only.
            Assert.True(difference < 1e-5 * scale, $"max |diff| {difference} for logits up to {scale}");
        }
    }

    [Fact]
    public void LlamaCppFormatsChatsWithTheExportedTemplateAsSharpLmDoes()
    {
        using var llama = new LlamaCppModel(trained.Gguf(GgufTensorType.F32));
        var text = llama.ApplyChatTemplate(("system", "Be brief."), ("user", "Hello there"));
        var sharpLm = ChatTemplates.ChatMl.RenderPrompt(trained.Tokenizer,
            [new ChatMessage(ChatMessage.SystemRole, "Be brief."), new ChatMessage(ChatMessage.UserRole, "Hello there")]);
        Assert.Equal(trained.Tokenizer.Decode(sharpLm[1..]), text); // SharpLM's ids start with the begin token
    }

    [Fact]
    public void TheDefaultFineTuneTemplateIsChatMlWhoseMarkersLlamaCppTokenizesAndStopsAt()
    {
        Assert.Same(ChatTemplates.ChatMl, ChatTemplates.DefaultFor(trained.Tokenizer));
        using var llama = new LlamaCppModel(trained.Gguf(GgufTensorType.F32));
        var text = llama.ApplyChatTemplate(("user", "Hello there"));
        var sharpLm = ChatTemplates.ChatMl.RenderPrompt(trained.Tokenizer, [new ChatMessage(ChatMessage.UserRole, "Hello there")]);
        Assert.Equal(sharpLm[1..], llama.Tokenize(text, special: true)); // one token per marker in both
        var imEnd = trained.Tokenizer.TokenToId("<|im_end|>")!.Value;
        Assert.Contains(imEnd, ChatTemplates.ChatMl.StopTokenIds(trained.Tokenizer));
        Assert.True(llama.EndsGeneration(imEnd));
    }

    [Fact]
    public void LlamaCppTokenizesLikeSharpLm()
    {
        using var llama = new LlamaCppModel(trained.Gguf(GgufTensorType.F32));
        foreach (var text in Texts)
            Assert.Equal(trained.Tokenizer.Encode(text), llama.Tokenize(text));
    }

    [Theory]
    [InlineData(GgufTensorType.F16, 2e-2)]
    [InlineData(GgufTensorType.Q8_0, 6e-2)]
    public void ReducedPrecisionExportsKeepTheGreedyTokens(GgufTensorType type, double tolerance)
    {
        using var llama = new LlamaCppModel(trained.Gguf(type));
        var prompt = Prompt(Texts[0]);
        var (difference, scale) = Compare(SharpLmLogits(prompt), llama.Logits(prompt));
        output.WriteLine($"{type}: max |diff| {difference:E2}, max |logit| {scale:F2}, file {new FileInfo(trained.Gguf(type)).Length:N0} bytes");
        Assert.True(difference < tolerance * scale, $"max |diff| {difference} for logits up to {scale}");
        Assert.Equal(SharpLmGreedy(prompt, 8), llama.Greedy(prompt, 8));
    }

    static (double Difference, double Scale) Compare(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double difference = 0, scale = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            difference = Math.Max(difference, Math.Abs(expected[i] - actual[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return (difference, scale);
    }
}

[CollectionDefinition(Name)]
public sealed class LlamaCppCollection
{
    /// <summary>llama.cpp tests run one at a time: each uses both cores.</summary>
    public const string Name = "llama.cpp";
}
