using System.CommandLine;
using System.Diagnostics;
using SharpLM.Chat;
using SharpLM.Generation;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm generate`: continue a prompt, streaming tokens to the terminal.</summary>
static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text to continue (default: read stdin).", };
        var samples = new Option<int>("--samples", "-n") { Description = "Independent continuations to print.", DefaultValueFactory = _ => 1 };
        var noBos = new Option<bool>("--no-bos") { Description = "Do not put the begin token before the prompt." };
        var noCache = new Option<bool>("--no-kv-cache") { Description = "Recompute the whole sequence every token (slow; for comparison)." };
        var raw = new Option<bool>("--raw")
        {
            Description = "Continue the prompt as plain text even when the model was fine-tuned with a chat template.",
        };
        var modelArgs = new ModelArguments();
        var sampling = new SamplingArguments();
        var templateVariables = new TemplateVariables();
        var cmd = new Command("generate", "Continue a prompt with a trained model, streaming the text.") { prompt, samples, noBos, noCache, raw };
        modelArgs.AddTo(cmd);
        sampling.AddTo(cmd);
        templateVariables.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            var text = parse.GetValue(prompt)
                ?? (Console.IsInputRedirected ? Console.In.ReadToEnd() : throw new SharpLMException("give --prompt or pipe text on stdin"));
            using var loaded = modelArgs.Load(parse);
            var options = sampling.Read(parse, loaded.Generation);
            // A fine-tuned model is prompted the way it was trained: the prompt becomes a user turn of its template.
            var template = parse.GetValue(raw) ? null
                : ChatTemplates.LoadFromModel(loaded.Adapter ?? loaded.Folder) is { } saved ? templateVariables.Apply(parse, saved) : null;
            int[] ids;
            if (template is not null)
            {
                ids = template.RenderPrompt(loaded.Tokenizer, [new ChatMessage(ChatMessage.UserRole, text)]);
                options = options with { StopStrings = [.. options.StopStrings, .. template.StopStrings] };
                Console.Error.WriteLine($"[prompt wrapped in the model's \"{template.Name}\" chat template; --raw to continue plain text]");
            }
            else
            {
                ids = loaded.EncodePrompt(text, addBos: !parse.GetValue(noBos));
            }
            var generator = new TokenGenerator(loaded.Model, useKvCache: !parse.GetValue(noCache));
            var stopTokens = loaded.StopTokens(template);
            for (int n = 0; n < parse.GetValue(samples); n++)
            {
                var sampleOptions = options.Seed is { } s ? options with { Seed = s + n } : options;
                if (template is null) Console.Write(text);
                var result = generator.GenerateText(new GenerationRequest(ids, sampleOptions, stopTokens), loaded.Tokenizer, Console.Write);
                Console.WriteLine();
                double seconds = result.Elapsed.TotalSeconds;
                Console.Error.WriteLine($"[{result.CompletionTokens} tokens in {seconds:F2} s, {result.CompletionTokens / seconds:F1} tok/s, " +
                                        $"prompt {result.PromptTokens} tokens, stopped: {result.Reason}]");
            }
            return 0;
        });
        return cmd;
    }
}
