using System.CommandLine;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Formats;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm eval`: mean next-token loss and perplexity of one or more models on text.</summary>
static class EvalCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model", "-m") { Description = "Model folder(s); several are compared side by side.", Required = true, AllowMultipleArgumentsPerToken = true };
        var data = new Option<string[]>("--data", "-d") { Description = "Text files or folders to evaluate on.", Required = true, AllowMultipleArgumentsPerToken = true };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per row.", DefaultValueFactory = _ => 512 };
        var rows = new Option<RowMode>("--rows") { Description = "Packed or Padded rows, as in pretraining.", DefaultValueFactory = _ => RowMode.Packed };
        var batch = new Option<int>("--batch-size") { Description = "Rows per forward pass.", DefaultValueFactory = _ => 8 };
        var corpus = new CorpusInput();
        var cmd = new Command("eval", "Loss and perplexity of models on text files (lower is better).") { models, data, seqLen, rows, batch };
        corpus.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            var table = new Table().Border(TableBorder.Rounded).AddColumns("model", "parameters", "loss", "perplexity", "tokens");
            foreach (var folder in parse.GetValue(models)!)
            {
                using var loaded = PretrainedModel.Load(folder);
                var tok = loaded.Tokenizer;
                int bos = tok.Special.Bos ?? throw new SharpLMException($"{folder}: the tokenizer has no begin token");
                int eos = tok.Special.Eos ?? throw new SharpLMException($"{folder}: the tokenizer has no end token");
                int seq = Math.Min(parse.GetValue(seqLen), loaded.Model.Config.MaxPositionEmbeddings);
                var docs = corpus.Tokenize(parse, parse.GetValue(data)!, tok, "evaluation data");
                var dataset = PretrainingDataset.Build(docs, seq, parse.GetValue(rows), bos, eos, tok.Special.Pad ?? eos);
                LossReport report = null!;
                AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn()).Start(ctx =>
                {
                    var task = ctx.AddTask($"evaluating {folder}", maxValue: dataset.Count);
                    report = LossEvaluator.Evaluate(loaded.Model, dataset, parse.GetValue(batch), progress: (done, _) => task.Value = done);
                });
                table.AddRow(Markup.Escape(folder), $"{loaded.Model.ParameterCount():N0}", $"{report.MeanLoss:F4}", $"{report.Perplexity:F2}", $"{report.TargetTokens:N0}");
            }
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }
}
