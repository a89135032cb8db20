using System.CommandLine;
using SharpLM.Hub;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm import ...`: bring models made by other tools into SharpLM's model-folder layout.</summary>
static class ImportCommand
{
    public static Command Create()
    {
        var cmd = new Command("import", "Convert models from other tools into a SharpLM (Hugging Face layout) model folder.");
        cmd.Subcommands.Add(CreateLlama2c());
        return cmd;
    }

    static Command CreateLlama2c()
    {
        var checkpoint = new Option<string>("--checkpoint", "-c")
        {
            Description = "llama2.c checkpoint in the legacy version 0 layout (e.g. stories15M.bin).",
            Required = true,
        };
        var tokenizer = new Option<string?>("--tokenizer", "-t") { Description = "llama2.c tokenizer.bin to include in the folder." };
        var output = new Option<string>("--output", "-o") { Description = "Model folder to write.", Required = true };
        var force = new Option<bool>("--force") { Description = "Write into an existing non-empty folder." };

        var cmd = new Command("llama2c", "Import a llama2.c checkpoint (Karpathy's run.c format).") { checkpoint, tokenizer, output, force };
        cmd.SetAction(parseResult =>
        {
            string folder = parseResult.GetValue(output)!;
            if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any() && !parseResult.GetValue(force))
                throw new SharpLMException($"{folder} already exists and is not empty; pass --force to write into it");
            var config = Llama2cImport.Run(parseResult.GetValue(checkpoint)!, parseResult.GetValue(tokenizer), folder, parseResult.GetValue(force));
            AnsiConsole.MarkupLine(
                $"Wrote [green]{Markup.Escape(folder)}[/]: {config.NumHiddenLayers} layers x {config.HiddenSize}, " +
                $"{config.NumAttentionHeads}/{config.NumKeyValueHeads} heads, vocab {config.VocabSize}, " +
                $"context {config.MaxPositionEmbeddings}, {config.ParameterCount():N0} parameters.");
            return 0;
        });
        return cmd;
    }
}
