using System.CommandLine;
using System.ComponentModel;
using System.Diagnostics;
using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Tokenization;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm data ...`: fetch the demo corpus and check fine-tuning data before training on it.</summary>
static class DataCommand
{
    const string FetchScript = "data/fetch.sh";

    public static Command Create()
    {
        var cmd = new Command("data", "Fetch the demo corpus and preview fine-tuning data.");
        cmd.Subcommands.Add(CreatePreview());
        cmd.Subcommands.Add(CreateFetch());
        return cmd;
    }

    static Command CreatePreview()
    {
        var data = new Option<string[]>("--data", "-d")
        {
            Description = "Instruction data: .jsonl, .csv or .parquet files or folders.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var tokenizerPath = new Option<string>("--tokenizer", "-t")
        {
            Description = "A tokenizer.json, or a model folder holding one (and maybe a saved chat template).",
            Required = true,
        };
        var count = new Option<int>("--examples", "-n") { Description = "How many examples to show.", DefaultValueFactory = _ => 3 };
        var objective = PreferenceArguments.CreateObjective();
        var input = new InstructionInput();
        var cmd = new Command("preview", "Show examples as the model will be trained on them (trained tokens in green) and count tokens.")
        {
            data, tokenizerPath, count, objective,
        };
        input.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            string tokenizerOrModel = HubInputs.Model(parse.GetValue(tokenizerPath)!);
            var tokenizer = TokenizerLoader.Load(tokenizerOrModel);
            var template = input.ChatTemplate(parse, tokenizerOrModel, tokenizer);
            var options = input.DatasetOptions(parse, tokenizer);
            if (parse.GetValue(objective) == TrainingObjectiveKind.Dpo)
            {
                var pairs = PreferenceArguments.ReadPairs(parse, input, HubInputs.Data(parse.GetValue(data)), "preference data");
                PreviewPairs(pairs, tokenizer, template, options, parse.GetValue(count));
                return 0;
            }
            var reader = input.Reader(parse, HubInputs.Data(parse.GetValue(data)));
            var examples = input.Render(parse, reader, tokenizer, template, "instruction data");

            Terminal.Results.MarkupLineInterpolated(
                $"Template [bold]{template.Name}[/]; [green]trained tokens in green[/], [dim]ignored tokens dimmed[/].");
            foreach (var example in examples.Take(parse.GetValue(count))) Show(example, tokenizer, options);

            var dataset = InstructionDataset.Build(examples, options);
            Terminal.Results.Write(Counts(reader.Stats, dataset));
            return 0;
        });
        return cmd;
    }

    /// <summary>Preference pairs: each side with its compared (completion) tokens in green, and the counts.</summary>
    static void PreviewPairs(List<PreferenceRecord> records, ITokenizer tokenizer, ChatTemplate template, InstructionDatasetOptions options,
        int count)
    {
        Terminal.Results.MarkupLineInterpolated(
            $"Template [bold]{template.Name}[/]; [green]compared (completion) tokens in green[/], [dim]the prompt dimmed[/].");
        var pairs = records.Select(r => PreferencePair.FromRecord(r, template, tokenizer)).ToList();
        foreach (var pair in pairs.Take(count))
        {
            Show(pair.Chosen, tokenizer, options, "chosen");
            Show(pair.Rejected, tokenizer, options, "rejected");
        }
        var dataset = PreferenceDataset.Build(pairs, options with { Packing = false });
        var table = new Table().Border(TableBorder.Rounded).AddColumns("", "count");
        table.AddRow("pairs read", $"{records.Count:N0}");
        table.AddRow("pairs kept", $"{dataset.Count:N0}");
        table.AddRow("tokens (both sides)", $"{dataset.Tokens:N0}");
        table.AddRow("completion tokens", $"{dataset.TrainedTokens:N0} ({100.0 * dataset.TrainedTokens / Math.Max(1, dataset.Tokens):F1}%)");
        table.AddRow("truncated", $"{dataset.Truncated:N0}");
        table.AddRow("dropped", $"{dataset.Dropped:N0}");
        Terminal.Results.Write(table);
    }

    static void Show(TemplatedExample example, ITokenizer tokenizer, InstructionDatasetOptions options, string? side = null)
    {
        var kept = InstructionDataset.Fit(example, options, out bool truncated);
        string fate = kept is null ? "[red]dropped[/]" : truncated ? $"[yellow]cut to {kept.Ids.Length} tokens[/]" : "kept";
        string name = Markup.Escape(example.Source) + (side is null ? "" : $" {side}");
        Terminal.Results.Write(new Rule($"{name}: {example.Ids.Length} tokens, {example.TrainedTokens} trained, {fate}").LeftJustified());
        var shown = kept ?? example;
        var text = new System.Text.StringBuilder();
        for (int start = 0, end; start < shown.Ids.Length; start = end)
        {
            for (end = start + 1; end < shown.Ids.Length && shown.Trained[end] == shown.Trained[start]; end++) { }
            // Decoded span by span, so characters split over several tokens stay whole.
            string piece = Markup.Escape(tokenizer.Decode(shown.Ids.AsSpan(start, end - start)));
            text.Append(shown.Trained[start] ? $"[green]{piece}[/]" : $"[dim]{piece}[/]");
        }
        Terminal.Results.MarkupLine(text.ToString());
        if (truncated && kept is not null)
            Terminal.Results.MarkupLineInterpolated(
                $"[yellow]... {example.Ids.Length - kept.Ids.Length} more tokens beyond --max-length {options.MaxLength} are not used[/]");
    }

    static Table Counts(InstructionStats stats, InstructionDataset dataset)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("", "count");
        foreach (var (file, format) in stats.Formats) table.AddRow(Markup.Escape(file), format.ToString());
        table.AddRow("records", $"{stats.Records:N0} ({stats.Conversations:N0} conversations, {stats.Texts:N0} texts)");
        table.AddRow("skipped (invalid)", $"{stats.Skipped:N0}");
        if (stats.Empty > 0) table.AddRow("empty texts", $"{stats.Empty:N0}");
        table.AddRow("examples", $"{dataset.Examples:N0}");
        table.AddRow("tokens", $"{dataset.Tokens:N0}");
        table.AddRow("trained tokens", $"{dataset.TrainedTokens:N0} ({100.0 * dataset.TrainedTokens / Math.Max(1, dataset.Tokens):F1}%)");
        table.AddRow("truncated", $"{dataset.Truncated:N0}");
        table.AddRow("dropped", $"{dataset.Dropped:N0}");
        if (dataset.Options.Packing) table.AddRow("packed rows", $"{dataset.Count:N0}");
        return table;
    }

    static Command CreateFetch()
    {
        var force = new Option<bool>("--force") { Description = "Delete the downloaded corpus and fetch it again." };
        var cmd = new Command("fetch", $"Download the demo corpus into data/corpus (runs {FetchScript} of the SharpLM checkout).") { force };
        cmd.SetAction(parse =>
        {
            string script = FindAbove(FetchScript, Directory.GetCurrentDirectory(), AppContext.BaseDirectory)
                            ?? throw new SharpLMException($"{FetchScript} not found above {Directory.GetCurrentDirectory()} " +
                                                          $"or {AppContext.BaseDirectory}; run this inside a SharpLM checkout");
            var start = new ProcessStartInfo("bash")
            {
                UseShellExecute = false,
                WorkingDirectory = Path.GetDirectoryName(Path.GetDirectoryName(script))!,
            };
            start.ArgumentList.Add(script);
            if (parse.GetValue(force)) start.ArgumentList.Add("--force");
            try
            {
                using var process = Process.Start(start)!;
                process.WaitForExit();
                return process.ExitCode;
            }
            catch (Win32Exception e)
            {
                throw new SharpLMException($"cannot run bash for {script}: {e.Message}", e);
            }
        });
        return cmd;
    }

    /// <summary>The first <paramref name="relativePath"/> found in one of <paramref name="startFolders"/> or a folder above it.</summary>
    internal static string? FindAbove(string relativePath, params string[] startFolders)
    {
        foreach (string start in startFolders)
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                string candidate = Path.Combine(folder.FullName, relativePath);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }
}
