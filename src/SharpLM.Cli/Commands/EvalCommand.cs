using System.CommandLine;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Hub;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm eval`: loss and perplexity on text, and answer loss and exact match on instruction data, for one
/// or more models side by side (e.g. a base and its fine-tuned versions).</summary>
static class EvalCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model", "-m")
        {
            Description = "Model or adapter folder(s) or Hub ids (org/name[@revision]); several are compared side by side.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var data = new Option<string[]>("--data", "-d")
        {
            Description = "Text files or folders, or Hub datasets (org/name[:split]): next-token loss and perplexity.",
            AllowMultipleArgumentsPerToken = true,
        };
        var instructions = new Option<string[]>("--instructions", "-i")
        {
            Description = "Instruction data (.jsonl etc.): loss on the answers, and greedy exact match.",
            AllowMultipleArgumentsPerToken = true,
        };
        var exactMatch = new Option<int>("--exact-match")
        {
            Description = "Conversations to score by exact match (0 = off).",
            DefaultValueFactory = _ => 200,
        };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per row for text.", DefaultValueFactory = _ => 512 };
        var rows = new Option<RowMode>("--rows")
        {
            Description = "Packed or Padded rows for text, as in pretraining.",
            DefaultValueFactory = _ => RowMode.Packed,
        };
        var batch = new Option<int>("--batch-size") { Description = "Rows per forward pass.", DefaultValueFactory = _ => 8 };
        var dtype = ModelArguments.DTypeOption();
        var device = DeviceOption.Create();
        var corpus = new CorpusInput();
        var input = new InstructionInput();
        var cmd = new Command("eval", "Compare models: perplexity on text, answer loss and exact match on instruction data (greedy; "
                                      + "answers compared after lower-casing, collapsing whitespace and dropping a final period).")
        {
            models, data, instructions, exactMatch, seqLen, rows, batch, dtype, device,
        };
        corpus.AddTo(cmd);
        cmd.Options.Add(input.Template);
        cmd.SetAction(parse =>
        {
            var on = ModelArguments.CheckQ8OnCpu(parse.GetValue(dtype)!, DeviceOption.Read(parse, device));
            var textPaths = HubInputs.Data(parse.GetValue(data));
            var instructionPaths = HubInputs.Data(parse.GetValue(instructions));
            if (textPaths.Length == 0 && instructionPaths.Length == 0)
                throw new SharpLMException("give --data (text) and/or --instructions (instruction data) to evaluate on");
            var weights = ModelArguments.ParseDType(parse.GetValue(dtype)!);
            bool q8 = ModelArguments.IsQ8(parse.GetValue(dtype)!);
            var records = instructionPaths.Length > 0 ? input.Reader(parse, instructionPaths).Read().ToList() : [];

            var table = new Table().Border(TableBorder.Rounded).AddColumn("model").AddColumn("parameters");
            if (textPaths.Length > 0) table.AddColumns("text loss", "perplexity");
            if (records.Count > 0) table.AddColumns("answer loss", "answer ppl");
            int emCount = Math.Min(parse.GetValue(exactMatch), records.Count(r => r.Conversation is not null));
            if (emCount > 0) table.AddColumn($"exact match ({emCount})");

            foreach (var folder in parse.GetValue(models)!)
            {
                var (modelFolder, adapterFolder) = HubInputs.ModelAndAdapter(folder, null);
                using var loaded = PretrainedModel.Load(modelFolder, weights, adapterFolder, device: on);
                if (q8) loaded.QuantizeForInference(); // losses and answers of the 8-bit projections, as generate --dtype q8 runs them
                var row = new List<string> { Markup.Escape(folder), $"{loaded.Model.ParameterCount():N0}" };
                if (textPaths.Length > 0)
                {
                    var dataset = TextDataset(parse, loaded, corpus.Tokenize(parse, textPaths, loaded.Tokenizer, "evaluation text"), seqLen, rows);
                    var report = Evaluate(loaded, dataset, parse.GetValue(batch), $"{folder}: text");
                    row.AddRange([$"{report.MeanLoss:F4}", $"{report.Perplexity:F2}"]);
                }
                if (records.Count > 0)
                {
                    var template = input.ChatTemplate(parse, loaded.Adapter ?? loaded.Folder, loaded.Tokenizer);
                    var dataset = InstructionDataset.Build(records.Select(r => TemplatedExample.FromRecord(r, template, loaded.Tokenizer)),
                        new InstructionDatasetOptions
                        {
                            MaxLength = loaded.Model.Config.MaxPositionEmbeddings, PadId = loaded.Tokenizer.Special.Pad ?? 0,
                        });
                    var report = Evaluate(loaded, dataset, parse.GetValue(batch), $"{folder}: answers");
                    row.AddRange([$"{report.MeanLoss:F4}", $"{report.Perplexity:F2}"]);
                    if (emCount > 0)
                    {
                        var items = records.Where(r => r.Conversation is not null).Take(emCount)
                            .Select(r => ExactMatchItem.FromConversation(r.Conversation!, template, loaded.Tokenizer)).ToList();
                        var em = FinetuneCommand.RunExactMatch(loaded, template, items, $"of {folder}");
                        row.Add($"{em!.Rate:P1}");
                    }
                }
                table.AddRow(row.ToArray());
            }
            table.Caption($"{(q8 ? "q8" : ModelArguments.Label(weights))} weights on {Runtime.ComputeDevice.Name(on)}; " +
                          "exact match is greedy, as `generate --greedy` and `chat` answer");
            Terminal.Results.Write(table);
            return 0;
        });
        return cmd;
    }

    static PretrainingDataset TextDataset(ParseResult parse, PretrainedModel loaded, List<int[]> docs, Option<int> seqLen, Option<RowMode> rows)
    {
        var tok = loaded.Tokenizer;
        int? bos = tok.Special.Bos; // none for tokenizers such as Qwen's: documents start bare
        int eos = tok.Special.Eos ?? throw new SharpLMException($"{loaded.Folder}: the tokenizer has no end token");
        int seq = Math.Min(parse.GetValue(seqLen), loaded.Model.Config.MaxPositionEmbeddings);
        return PretrainingDataset.Build(docs, seq, parse.GetValue(rows), bos, eos, tok.Special.Pad ?? eos);
    }

    internal static LossReport Evaluate(PretrainedModel loaded, ITrainingData dataset, int batch, string label)
    {
        LossReport report = null!;
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn()).Start(ctx =>
        {
            var task = ctx.AddTask(Markup.Escape(label), maxValue: dataset.Count);
            report = LossEvaluator.Evaluate(loaded.Model, dataset, batch, progress: (done, _) => task.Value = done);
        });
        return report;
    }
}
