using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.Chat;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Tokenization;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>A model made elsewhere, shaped like Qwen2.5-Instruct (qwen2 architecture, Qwen2.5's real tokenizer and
/// tokenizer_config.json with its Jinja template and no begin token), fine-tuned with LoRA from the command line, then
/// exported: every piece a user meets with a Hub download.</summary>
[Collection(CliCollection.Name)]
public sealed class QwenWorkflowTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static int Run(params string[] args) =>
        CommandRunner.Invoke(new RootCommand { FinetuneCommand.Create(), ExportCommand.Create(), DataCommand.Create() }, args);

    string QwenFolder()
    {
        var folder = dir.File("qwen");
        var tokenizer = Qwen2TokenizerTests.Qwen.Value;
        var templates = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("chat-templates", "templates.json"))).RootElement;
        using (var model = new LlamaForCausalLM(LlamaConfig.FromJson("""
               {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16, "intermediate_size": 32,
                "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 256,
                "rope_theta": 1000000.0, "tie_word_embeddings": true, "use_sliding_window": false, "vocab_size": 151936}
               """)))
        {
            model.InitializeWeights(4);
            ModelFolder.Save(folder, model, tokenizer);
        }
        dir.Write("qwen/tokenizer_config.json", new JsonObject
        {
            ["bos_token"] = null, ["eos_token"] = "<|im_end|>", ["pad_token"] = "<|endoftext|>",
            ["chat_template"] = templates.GetProperty("qwen2_5").GetProperty("chat_template").GetString(),
        }.ToJsonString());
        return folder;
    }

    [Fact]
    public void FineTuneWithTheModelsOwnTemplateThenExport()
    {
        var model = QwenFolder();
        var rows = Enumerable.Range(0, 24).Select(i => new JsonObject
        {
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "user", ["content"] = $"What is {i} + 1?" },
                new JsonObject { ["role"] = "assistant", ["content"] = $"{i + 1}" }),
        }.ToJsonString());
        var data = dir.Write("chats.jsonl", string.Join("\n", rows));

        var loaded = TokenizerLoader.Load(model);
        Assert.Null(loaded.Special.Bos); // tokenizer_config.json says none

        var output = dir.File("run");
        Assert.Equal(0, Run("finetune", "--model", model, "--data", data, "--method", "lora", "--max-steps", "2", "--batch-size", "4",
            "--max-length", "64", "--exact-match", "0", "--precision", "Fp32", "--output", output));
        var adapter = Path.Combine(output, "final");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, "tokenizer_config.json")))!.AsObject();
        Assert.Null(config["bos_token"]); // kept as "none", not replaced by a guess
        var template = Assert.IsType<JinjaChatTemplate>(ChatTemplates.LoadFromModel(adapter));
        Assert.StartsWith("<|im_start|>system\nYou are Qwen", loaded.Decode(template.RenderPrompt(loaded, [new ChatMessage("user", "hi")])));

        var gguf = dir.File("qwen.gguf");
        Assert.Equal(0, Run("export", "--format", "gguf", "--model", adapter, "--output", gguf));
        var metadata = new Formats.GgufTestReader(gguf).Metadata;
        Assert.Equal("qwen2", metadata["general.architecture"]);
        Assert.Equal("qwen2", metadata["tokenizer.ggml.pre"]);
        Assert.Equal(template.JinjaTemplate, metadata["tokenizer.chat_template"]);
    }
}
