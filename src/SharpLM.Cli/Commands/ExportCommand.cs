using System.CommandLine;
using System.Diagnostics;
using SharpLM.Chat;
using SharpLM.Formats;
using SharpLM.Hub;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm export`: write a model folder in an inference engine's format.</summary>
static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "Model folder (config.json, model.safetensors, tokenizer) or Hub id, or a LoRA adapter folder " +
                          "(merged into the base it names).",
            Required = true,
        };
        var format = new Option<string>("--format", "-f") { Description = "Output format: gguf (llama.cpp, LLamaSharp, Ollama).", Required = true };
        format.AcceptOnlyFromAmong("gguf");
        var dtype = new Option<string>("--dtype")
        {
            Description = "Tensor type of the weight matrices: f32, f16 or q8_0 (norms stay f32).",
            DefaultValueFactory = _ => "f16",
        };
        dtype.AcceptOnlyFromAmong("f32", "f16", "q8_0");
        var output = new Option<string>("--output", "-o") { Description = "File to write, e.g. model.gguf.", Required = true };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing output file." };

        var cmd = new Command("export", "Export a model folder for an inference engine.") { model, format, dtype, output, force };
        cmd.SetAction(parseResult =>
        {
            string path = parseResult.GetValue(output)!;
            var (modelFolder, adapterFolder) = HubInputs.ModelAndAdapter(parseResult.GetValue(model)!, null);
            var folder = adapterFolder ?? modelFolder;
            var type = GgufTensorTypes.Parse(parseResult.GetValue(dtype)!);
            if (File.Exists(path) && !parseResult.GetValue(force)) throw new SharpLMException($"{path} already exists; pass --force to overwrite it");
            var clock = Stopwatch.StartNew();
            GgufExporter.Export(folder, path, type, parseResult.GetValue(force), adapterFolder is null ? null : modelFolder);
            AnsiConsole.MarkupLineInterpolated(
                $"Wrote [green]{path}[/] ({type}, {new FileInfo(path).Length / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s.");
            if (ChatTemplates.LoadFromModel(folder) is PartsChatTemplate template && template.Name != ChatTemplates.ChatMl.Name)
                AdviseOnTemplate(template, path);
            return 0;
        });
        return cmd;
    }

    /// <summary>llama.cpp picks a chat format by recognising the template text; SharpLM's own templates other than
    /// ChatML are not among those it knows, so say what llama.cpp and Ollama users must do.</summary>
    static void AdviseOnTemplate(PartsChatTemplate template, string gguf)
    {
        AnsiConsole.MarkupLine($"[yellow]note:[/] llama.cpp does not recognise SharpLM's \"{Markup.Escape(template.Name)}\" chat template " +
                               "by itself. The file carries it as tokenizer.chat_template:");
        AnsiConsole.MarkupLineInterpolated($"  llama-server / llama-cli: add --jinja to render it.");
        AnsiConsole.MarkupLineInterpolated($"  Ollama: put this Modelfile beside the file and run `ollama create NAME -f Modelfile`:");
        AnsiConsole.WriteLine(OllamaModelfile(template, Path.GetFileName(gguf)));
        AnsiConsole.MarkupLine("  (Fine-tuning without --template uses ChatML, which every tool knows, " +
                               "adding its markers to the tokenizer when needed.)");
    }

    /// <summary>An Ollama Modelfile whose Go template renders conversations as <paramref name="template"/> does.</summary>
    internal static string OllamaModelfile(PartsChatTemplate template, string ggufFile)
    {
        static string Part(string text) => text.Replace("{{", "{{ \"{{\" }}").Replace(PartsChatTemplate.ContentPlaceholder, "{{ .Content }}");
        // The end token after answers is left out: Ollama stops at the file's end token on its own.
        var system = Part(template.SystemPart);
        var lines = new List<string>
        {
            $"FROM ./{ggufFile}",
            "TEMPLATE \"\"\"{{- range .Messages }}" +
            $"{{{{- if eq .Role \"system\" }}}}{system}" +
            $"{{{{- else if eq .Role \"user\" }}}}{Part(template.UserPart)}" +
            $"{{{{- else if eq .Role \"assistant\" }}}}{Part(template.AssistantStart)}{{{{ .Content }}}}" +
            $"{Part(template.AssistantEnd)}{Part(template.AfterAssistant)}" +
            "{{- end }}{{- end }}" + Part(template.AssistantStart) + "\"\"\"",
        };
        lines.AddRange(template.StopStrings.Select(stop => $"PARAMETER stop \"{stop.Replace("\"", "\\\"")}\""));
        return string.Join("\n", lines);
    }
}
