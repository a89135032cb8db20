using System.CommandLine;
using SharpLM.Adapters;
using SharpLM.Hub;
using SharpLM.IO;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm merge`: fold a LoRA adapter into its base and write a plain full model.</summary>
static class MergeCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output", "-o") { Description = "Folder for the merged model.", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace an existing output folder." };
        var save = new SaveArguments();
        var modelArgs = new ModelArguments();
        var cmd = new Command("merge", "Merge a LoRA adapter into its base model (W += alpha/r * B A) and save the result as a full model.")
        {
            output, force,
        };
        modelArgs.AddTo(cmd);
        save.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            var outputFolder = parse.GetValue(output)!;
            var saveOptions = save.Read(parse);
            if (Directory.Exists(outputFolder) && Directory.EnumerateFileSystemEntries(outputFolder).Any() && !parse.GetValue(force))
                throw new SharpLMException($"{outputFolder} exists and is not empty; pass --force to replace it");
            using var loaded = modelArgs.Load(parse);
            if (loaded.Adapter is null) throw new SharpLMException("no adapter given: pass --adapter, or an adapter folder as --model");
            int adapters = Lora.Adapters(loaded.Model).Count();
            Lora.Merge(loaded.Model);
            var partial = outputFolder.TrimEnd('/') + ".partial";
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
            ModelFolder.Save(partial, loaded.Model, loaded.Tokenizer, loaded.Generation, saveOptions);
            ModelFolder.CopyCompanionFiles(partial, loaded.Adapter, loaded.Folder);
            FolderSwap.Replace(partial, outputFolder);
            AnsiConsole.MarkupLineInterpolated($"Merged {adapters} adapters from [green]{loaded.Adapter}[/] into [green]{outputFolder}[/].");
            return 0;
        });
        return cmd;
    }
}
