using System.CommandLine;
using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using SharpLM.Data;
using SharpLM.Tokenization;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm tokenizer ...`: train and inspect tokenizers.</summary>
static class TokenizerCommand
{
    // Shows a token's text quoted, with control characters escaped and everything else as is.
    static readonly JsonSerializerOptions Quoted = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var cmd = new Command("tokenizer", "Train and inspect byte-level BPE tokenizers.");
        cmd.Subcommands.Add(CreateTrain());
        cmd.Subcommands.Add(CreateEncode());
        return cmd;
    }

    static Command CreateTrain()
    {
        var input = new Option<string[]>("--input", "-i")
        {
            Description = "Text files or folders (searched recursively) of .txt/.md, .jsonl (a text field per line) and .parquet.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var vocabSize = new Option<int>("--vocab-size")
        {
            Description = "Total vocabulary size, special and byte tokens included.",
            DefaultValueFactory = _ => 8000,
        };
        var minFrequency = new Option<long>("--min-frequency")
        {
            Description = "Pairs seen fewer times are not merged.",
            DefaultValueFactory = _ => 2,
        };
        var specialTokens = new Option<string>("--special-tokens")
        {
            Description = "Comma-separated special tokens, given ids 0, 1, ... in this order (ChatML's markers let fine-tunes use ChatML).",
            DefaultValueFactory = _ => string.Join(",", [.. BpeTrainerOptions.DefaultSpecialTokens, .. BpeTrainerOptions.ChatMlMarkers]),
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Output tokenizer.json, or a folder to write tokenizer.json into.",
            Required = true,
        };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing output file." };

        var corpus = new CorpusInput();
        var cmd = new Command("train", "Train a byte-level BPE tokenizer and write a Hugging Face tokenizer.json.")
        {
            new RunConfig(), input, vocabSize, minFrequency, specialTokens, output, force,
        };
        corpus.AddTo(cmd);
        cmd.SetAction(parseResult =>
        {
            var options = new BpeTrainerOptions
            {
                VocabSize = parseResult.GetValue(vocabSize),
                MinFrequency = parseResult.GetValue(minFrequency),
                SpecialTokens = parseResult.GetValue(specialTokens)!
                    .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
            };
            options.Validate();
            string path = OutputFile(parseResult.GetValue(output)!);
            if (File.Exists(path) && !parseResult.GetValue(force))
                throw new SharpLMException($"{path} already exists; pass --force to overwrite it.");
            var reader = corpus.Reader(parseResult, HubInputs.Data(parseResult.GetValue(input)));

            var clock = Stopwatch.StartNew();
            var tokenizer = Train(reader, options);
            tokenizer.Save(path);
            AnsiConsole.MarkupLine(
                $"Wrote [green]{Markup.Escape(path)}[/]: {tokenizer.VocabSize} tokens, {tokenizer.Merges.Count} merges, " +
                $"from {reader.Stats.Documents:N0} documents ({reader.Stats.Bytes / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s.");
            if (tokenizer.VocabSize < options.VocabSize)
                AnsiConsole.MarkupLine(
                    $"[yellow]note:[/] stopped short of {options.VocabSize} tokens: no pair left that occurs at least {options.MinFrequency} " +
                    "times (more text or a lower --min-frequency gives more).");
            return 0;
        });
        return cmd;
    }

    static ByteLevelBpeTokenizer Train(CorpusReader reader, BpeTrainerOptions options)
    {
        ByteLevelBpeTokenizer? result = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var reading = ctx.AddTask("Reading and counting words");
                reading.IsIndeterminate = true;
                var merging = ctx.AddTask("Learning merges", autoStart: false);
                var texts = reader.ReadDocuments().Select(d =>
                {
                    reading.Description = $"Reading and counting words: {reader.Stats.Documents:N0} documents, {reader.Stats.Bytes / 1e6:F1} MB";
                    return d.Text;
                });
                result = new BpeTrainer(options).Train(texts, p =>
                {
                    if (p.Stage != BpeTrainingStage.Merging) return;
                    if (!merging.IsStarted)
                    {
                        reading.IsIndeterminate = false;
                        reading.Value = reading.MaxValue;
                        merging.MaxValue = Math.Max(1, p.Total ?? 1);
                        merging.StartTask();
                    }
                    merging.Value = p.Done;
                    if (p.Done == p.Total) merging.Value = merging.MaxValue;
                });
            });
        return result!;
    }

    static Command CreateEncode()
    {
        var tokenizerPath = new Option<string>("--tokenizer", "-t")
        {
            Description = "A tokenizer.json, or a folder that holds one.",
            Required = true,
        };
        var allowSpecial = new Option<bool>("--allow-special") { Description = "Recognise special tokens such as [EOT] in the text." };
        var text = new Argument<string>("text") { Description = "The text to encode." };
        var cmd = new Command("encode", "Show the token ids and tokens of a text.") { tokenizerPath, allowSpecial, text };
        cmd.SetAction(parseResult =>
        {
            var tokenizer = TokenizerLoader.Load(parseResult.GetValue(tokenizerPath)!);
            var ids = tokenizer.Encode(parseResult.GetValue(text)!, parseResult.GetValue(allowSpecial));

            Terminal.Results.WriteLine($"ids ({ids.Length}): {string.Join(' ', ids)}");
            var table = new Table().AddColumns("#", "id", "token", "text");
            for (int i = 0; i < ids.Length; i++)
            {
                string piece = JsonSerializer.Serialize(tokenizer.Decode([ids[i]]), Quoted);
                table.AddRow(new Text(i.ToString()), new Text(ids[i].ToString()), new Text(tokenizer.IdToToken(ids[i]) ?? "?"), new Text(piece));
            }
            Terminal.Results.Write(table);
            return 0;
        });
        return cmd;
    }

    static string OutputFile(string output) =>
        Directory.Exists(output) || Path.EndsInDirectorySeparator(output) || !output.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? Path.Combine(output, "tokenizer.json")
            : output;
}
