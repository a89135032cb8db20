using System.CommandLine;
using SharpLM.Chat;
using SharpLM.Generation;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm chat`: multi-turn chat in the terminal (or over a pipe) with the model's chat template.</summary>
static class ChatCommand
{
    const string Help = "commands: /reset (forget the conversation), /system <text> (set the system message), /quit";

    public static Command Create()
    {
        var system = new Option<string?>("--system") { Description = "System message at the start of the conversation." };
        var template = new Option<string?>("--template")
        {
            Description = "Chat template (default: the one saved with the model or its own Jinja chat_template, else default).",
        };
        var modelArgs = new ModelArguments();
        var sampling = new SamplingArguments();
        var templateVariables = new TemplateVariables();
        var cmd = new Command("chat",
            "Chat with a model in the terminal. Each line you type is a user turn; from a pipe, each input line is one turn.")
        {
            system, template,
        };
        modelArgs.AddTo(cmd);
        sampling.AddTo(cmd);
        templateVariables.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            using var loaded = modelArgs.Load(parse);
            var chatTemplate = templateVariables.Apply(parse,
                ChatTemplates.Resolve(parse.GetValue(template), loaded.Adapter ?? loaded.Folder, loaded.Tokenizer));
            var options = sampling.Read(parse, loaded.Generation);
            options = options with { StopStrings = [.. options.StopStrings, .. chatTemplate.StopStrings] };
            var generator = new TokenGenerator(loaded.Model);
            var stops = loaded.StopTokens(chatTemplate);
            bool interactive = !Console.IsInputRedirected;
            string? systemMessage = parse.GetValue(system);
            var history = new List<ChatMessage>();
            var interrupts = new ChatInterrupts();
            ConsoleCancelEventHandler onCtrlC = (_, e) =>
            {
                var outcome = interrupts.OnCtrlC();
                e.Cancel = outcome != ChatInterrupts.Outcome.Quit;
                if (outcome == ChatInterrupts.Outcome.Warn) AnsiConsole.MarkupLine("\n[grey](Ctrl+C again to quit, or /quit)[/]");
            };
            Console.CancelKeyPress += onCtrlC;
            try
            {
                if (interactive)
                    AnsiConsole.MarkupLineInterpolated(
                        $"[grey]chatting with {loaded.Adapter ?? loaded.Folder} (template {chatTemplate.Name}); {Help}; Ctrl+C stops an answer[/]");
                while (true)
                {
                    if (interactive) AnsiConsole.Markup("[bold green]> [/]");
                    var line = Console.ReadLine();
                    if (line is null) break;
                    interrupts.LineTyped();
                    line = line.Trim();
                    if (line.Length == 0) continue;
                    if (line is "/quit" or "/exit") break;
                    if (line == "/reset") { history.Clear(); AnsiConsole.MarkupLine("[grey](conversation cleared)[/]"); continue; }
                    if (line.StartsWith("/system"))
                    {
                        systemMessage = line["/system".Length..].Trim();
                        history.Clear();
                        AnsiConsole.MarkupLine("[grey](system message set; conversation cleared)[/]");
                        continue;
                    }
                    if (line.StartsWith('/')) { AnsiConsole.MarkupLineInterpolated($"[grey]{Help}[/]"); continue; }

                    history.Add(new ChatMessage(ChatMessage.UserRole, line));
                    var prompt = FitPrompt(loaded, chatTemplate, systemMessage, history, options.MaxNewTokens);
                    var answer = Answer(generator, loaded, new GenerationRequest(prompt, options, stops), interrupts);
                    history.Add(new ChatMessage(ChatMessage.AssistantRole, answer.Length > 0 ? answer : "..."));
                }
            }
            finally
            {
                Console.CancelKeyPress -= onCtrlC;
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>Streams one answer to stdout and its speed to stderr; a Ctrl+C stops it (what was said so far is kept).</summary>
    static string Answer(TokenGenerator generator, Hub.PretrainedModel loaded, GenerationRequest request, ChatInterrupts interrupts)
    {
        GenerationResult result;
        try
        {
            result = generator.GenerateText(request, loaded.Tokenizer, Console.Write, interrupts.AnswerStarted());
        }
        finally
        {
            Console.WriteLine();
            interrupts.AnswerEnded();
        }
        double seconds = result.Elapsed.TotalSeconds;
        bool stopped = result.Reason == StopReason.Cancelled;
        double tokensPerSecond = result.CompletionTokens / Math.Max(seconds, 1e-9);
        AnsiConsole.MarkupLineInterpolated(
            $"[grey]({result.CompletionTokens} tokens, {tokensPerSecond:F1} tokens/s{(stopped ? ", stopped by Ctrl+C" : "")})[/]");
        return result.Text.Trim();
    }

    /// <summary>The prompt for the whole conversation; drops the oldest turns (keeping the system message) when
    /// it would not leave room for the answer in the model's context.</summary>
    static int[] FitPrompt(Hub.PretrainedModel loaded, ChatTemplate template, string? system, List<ChatMessage> history, int maxNewTokens)
    {
        int budget = loaded.Model.Config.MaxPositionEmbeddings - maxNewTokens;
        while (true)
        {
            var messages = system is { Length: > 0 } ? [new ChatMessage(ChatMessage.SystemRole, system), .. history] : history;
            var ids = template.RenderPrompt(loaded.Tokenizer, messages);
            if (ids.Length <= budget || history.Count <= 1)
            {
                if (ids.Length > loaded.Model.Config.MaxPositionEmbeddings - 1)
                    throw new SharpLMException($"the message is {ids.Length} tokens, " +
                                               $"too long for the model's context of {loaded.Model.Config.MaxPositionEmbeddings}");
                return ids;
            }
            history.RemoveRange(0, 2); // the oldest user turn and its answer
            AnsiConsole.MarkupLine("[grey](oldest turn dropped to fit the context)[/]");
        }
    }
}
