using System.CommandLine;
using System.Diagnostics;
using SharpLM.Formats;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm export`: write a model folder in an inference engine's format.</summary>
static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model folder (config.json, model.safetensors, tokenizer), or a LoRA adapter folder (merged into the base it names).", Required = true };
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
            var type = GgufTensorTypes.Parse(parseResult.GetValue(dtype)!);
            var clock = Stopwatch.StartNew();
            GgufExporter.Export(parseResult.GetValue(model)!, path, type, parseResult.GetValue(force));
            AnsiConsole.MarkupLineInterpolated($"Wrote [green]{path}[/] ({type}, {new FileInfo(path).Length / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s.");
            return 0;
        });
        return cmd;
    }
}
