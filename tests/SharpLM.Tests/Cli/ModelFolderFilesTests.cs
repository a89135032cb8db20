using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.Chat;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Tests.Tokenization;
using SharpLM.Tokenization;
using Xunit;

namespace SharpLM.Tests.Cli;

/// <summary>A model folder's own files (its Jinja chat template, special-token declarations) survive every command
/// that writes a model folder from it: LoRA and full fine-tuning, merge, and GGUF export of the merged model.</summary>
[Collection(CliCollection.Name)]
public sealed class ModelFolderFilesTests : IDisposable
{
    const string Template =
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}" +
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    static int Run(params string[] args) =>
        CommandRunner.Invoke(new RootCommand { FinetuneCommand.Create(), MergeCommand.Create(), ExportCommand.Create() }, args);

    /// <summary>A folder as a Hub download has it: weights, tokenizer, tokenizer_config.json with a chat template and
    /// special tokens, special_tokens_map.json.</summary>
    string HubLikeFolder()
    {
        var folder = TestModels.TinyFolder(dir.File("base"), seed: 3);
        dir.Write("base/tokenizer_config.json", new JsonObject
        {
            ["bos_token"] = "[BOT]", ["eos_token"] = "[EOT]", ["pad_token"] = "[PAD]", ["model_max_length"] = 256, ["chat_template"] = Template,
        }.ToJsonString());
        dir.Write("base/special_tokens_map.json", """{"bos_token": "[BOT]", "eos_token": "[EOT]", "pad_token": "[PAD]"}""");
        return folder;
    }

    [Fact]
    public void TemplateAndTokenFilesSurviveFineTuningMergeAndExport()
    {
        var model = HubLikeFolder();
        var data = dir.Write("chats.jsonl", string.Join("\n", Enumerable.Range(0, 16).Select(i => new JsonObject
        {
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "user", ["content"] = $"say {i}" },
                new JsonObject { ["role"] = "assistant", ["content"] = $"{i}" }),
        }.ToJsonString())));
        string[] common =
            ["--data", data, "--max-steps", "1", "--batch-size", "4", "--max-length", "160", "--exact-match", "0", "--precision", "Fp32"];

        var lora = dir.File("lora");
        Assert.Equal(0, Run(["finetune", "--model", model, "--method", "lora", "--output", lora, .. common]));
        var full = dir.File("full");
        Assert.Equal(0, Run(["finetune", "--model", model, "--method", "full", "--output", full, .. common]));
        var merged = dir.File("merged");
        Assert.Equal(0, Run("merge", "--model", Path.Combine(lora, "final"), "--output", merged));

        foreach (var folder in new[] { Path.Combine(lora, "final"), Path.Combine(full, "final"), merged })
        {
            var template = Assert.IsType<JinjaChatTemplate>(ChatTemplates.LoadFromModel(folder));
            Assert.Equal(Template, template.JinjaTemplate);
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, TokenizerConfigFile.FileName)))!.AsObject();
            Assert.Equal(256, (int)config["model_max_length"]!); // fields SharpLM does not use are kept too
            Assert.Equal("[EOT]", (string?)config["eos_token"]);
            Assert.True(File.Exists(Path.Combine(folder, "special_tokens_map.json")), folder);
        }

        var gguf = dir.File("merged.gguf");
        Assert.Equal(0, Run("export", "--format", "gguf", "--model", merged, "--output", gguf));
        Assert.Equal(Template, new Formats.GgufTestReader(gguf).Metadata["tokenizer.chat_template"]);
    }

    [Fact]
    public void ATemplateInChatTemplateJinjaIsTheModelsOwnAndIsReplacedWhenAnotherIsSaved()
    {
        var folder = HubLikeFolder();
        File.WriteAllText(Path.Combine(folder, "chat_template.jinja"), "{{ messages[0]['content'] }}");
        Assert.Equal("{{ messages[0]['content'] }}", ChatTemplates.LoadFromModel(folder)!.JinjaTemplate); // read first, as transformers does

        ChatTemplates.ChatMl.Save(folder);
        Assert.False(File.Exists(Path.Combine(folder, "chat_template.jinja")));
        Assert.Equal("chatml", ChatTemplates.LoadFromModel(folder)!.Name);
    }

    [Fact]
    public void ExportingATemplateLlamaCppDoesNotKnowSaysWhatToDo()
    {
        var folder = TestModels.TinyFolder(dir.File("plain"));
        ChatTemplates.Default.Save(folder);
        var (exit, _, advice) = ConsoleCapture.Run(() => Run("export", "--format", "gguf", "--model", folder, "--output", dir.File("plain.gguf")));
        Assert.Equal(0, exit);
        Assert.Contains("llama.cpp does not recognise SharpLM's \"default\" chat template", advice);
        Assert.Contains("--jinja", advice);
        Assert.Contains("FROM ./plain.gguf", advice);
        Assert.Contains("{{- else if eq .Role \"user\" }}### Instruction:\n{{ .Content }}\n\n", advice);
        Assert.Contains("PARAMETER stop \"### Instruction:\"", advice);
    }
}
