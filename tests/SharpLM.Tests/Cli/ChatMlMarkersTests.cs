using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Chat;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Interop;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>A model whose tokenizer lacks ChatML's markers (an older SharpLM tokenizer, a Hub base model) gets them as
/// special tokens when it is fine-tuned without a template of its own, so that its fine-tune uses ChatML, which
/// llama.cpp and Ollama know: with LoRA (the adapter records the added rows and loads, merges and exports) and in full.</summary>
[Collection(CliCollection.Name)]
public sealed class ChatMlMarkersTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static (int Exit, string Out, string Err) Run(params string[] args) => ConsoleCapture.Run(() =>
        CommandRunner.Invoke(new RootCommand { FinetuneCommand.Create(), MergeCommand.Create(), ExportCommand.Create() }, args));

    string Chats() => dir.Write("chats.jsonl", string.Join("\n", Enumerable.Range(0, 16).Select(i => new JsonObject
    {
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "user", ["content"] = $"say {i}" },
            new JsonObject { ["role"] = "assistant", ["content"] = $"{i}" }),
    }.ToJsonString())));

    string[] FineTune(string model, string method, string output, params string[] extra) =>
    [
        "finetune", "--model", model, "--data", Chats(), "--method", method, "--output", output, "--max-steps", "2", "--batch-size", "4",
        "--max-length", "160", "--exact-match", "0", "--precision", "Fp32", .. extra,
    ];

    [Fact]
    public void LoraAddsTheMarkersRecordsTheRowsAndItsMergeAndGgufUseChatMl()
    {
        var model = TestModels.TinyFolder(dir.File("base"), seed: 4);
        int vocab = TokenizerLoader.Load(model).VocabSize;
        var (exit, _, err) = Run(FineTune(model, "lora", dir.File("lora")));
        Assert.True(exit == 0, err);
        Assert.Contains($"added ChatML's <|im_start|> and <|im_end|> to the tokenizer as ids {vocab}-{vocab + 1}", err);
        Assert.Contains("LoRA adapts lm_head too", err);

        var adapter = Path.Combine(dir.File("lora"), "final");
        var config = AdapterFolder.ReadConfig(adapter);
        Assert.Equal(new AddedTokenRows(vocab, 2, vocab), config.AddedTokens);
        Assert.Contains("lm_head", config.Options.TargetModules);
        // The recorded fingerprint is the base's as it is on disk, so a moved base is still found by it.
        Assert.Equal(BaseFingerprint.OfFolder(model), config.BaseFingerprint);
        Assert.Equal("chatml", ChatTemplates.LoadFromModel(adapter)!.Name);

        using var loaded = PretrainedModel.Load(adapter);
        Assert.Equal(vocab + 2, loaded.Model.Config.VocabSize);
        Assert.Equal(vocab, loaded.Tokenizer.TokenToId("<|im_start|>"));
        Assert.Equal([vocab + 1], loaded.Tokenizer.Encode("<|im_end|>", allowSpecial: true));
        Assert.Contains(vocab + 1, loaded.Generation.EosTokenId!); // answers end at <|im_end|>
        var prompt = ChatTemplates.ChatMl.RenderPrompt(loaded.Tokenizer, [new ChatMessage(ChatMessage.UserRole, "say 3")]);
        var adapted = TestModels.LastLogits(loaded.Model, prompt);
        Assert.Equal(vocab + 2, adapted.Length);

        var merged = dir.File("merged");
        (exit, _, err) = Run("merge", "--model", adapter, "--output", merged);
        Assert.True(exit == 0, err);
        using (var mergedModel = PretrainedModel.Load(merged))
        {
            Assert.Equal(vocab + 2, mergedModel.Model.Config.VocabSize);
            var merge = TestModels.LastLogits(mergedModel.Model, prompt);
            Assert.True(adapted.Zip(merge).Max(p => Math.Abs(p.First - p.Second)) < 1e-4);
        }

        var gguf = dir.File("merged.gguf");
        (exit, _, err) = Run("export", "--format", "gguf", "--model", merged, "--output", gguf);
        Assert.True(exit == 0, err);
        Assert.DoesNotContain("does not recognise", err);
        using var llama = new LlamaCppModel(gguf);
        var text = llama.ApplyChatTemplate(("user", "say 3"));
        Assert.Equal(prompt[1..], llama.Tokenize(text, special: true)); // one token per marker, as SharpLM encodes it
        Assert.True(llama.EndsGeneration(vocab + 1));
    }

    [Fact]
    public void FullFineTuningSavesTheGrownVocabularyAndTheDefaultTemplateKeepsTheTokenizer()
    {
        var model = TestModels.TinyFolder(dir.File("base"), seed: 4);
        int vocab = TokenizerLoader.Load(model).VocabSize;
        var (exit, _, err) = Run(FineTune(model, "full", dir.File("full")));
        Assert.True(exit == 0, err);
        using (var full = PretrainedModel.Load(Path.Combine(dir.File("full"), "final")))
        {
            Assert.Equal(vocab + 2, full.Model.Config.VocabSize);
            Assert.Equal(vocab + 2, full.Tokenizer.VocabSize);
            Assert.Equal("chatml", ChatTemplates.LoadFromModel(full.Folder)!.Name);
        }

        (exit, _, err) = Run(FineTune(model, "freeze", dir.File("freeze"), "--train-last-layers", "1"));
        Assert.True(exit == 0, err);
        Assert.Contains("embed_tokens and lm_head are trained too", err);

        (exit, _, err) = Run(FineTune(model, "lora", dir.File("plain"), "--template", "default"));
        Assert.True(exit == 0, err);
        Assert.DoesNotContain("added ChatML", err);
        var adapter = Path.Combine(dir.File("plain"), "final");
        Assert.Null(AdapterFolder.ReadConfig(adapter).AddedTokens);
        Assert.Equal(vocab, TokenizerLoader.Load(adapter).VocabSize);
        var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json"))).RootElement;
        Assert.False(written.TryGetProperty("sharplm_added_tokens", out _));
    }
}
