using System.CommandLine;
using System.Diagnostics;
using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Hub;
using SharpLM.IO;
using SharpLM.Tokenization;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm finetune`: continue training a model folder on domain text or instructions (full, freeze, LoRA).</summary>
static class FinetuneCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "The model to start from: a Hugging Face layout folder (e.g. runs/demo/pretrain/final) or a Hub id " +
                          "(org/name[@revision]). Required (with --resume, the run's saved value is used).",
        };
        var data = new Option<string[]>("--data", "-d")
        {
            Description = "Training data: .jsonl/.csv/.parquet (text, alpaca, prompt/completion or chat messages) or .txt, or a Hub " +
                          "dataset (org/name[@revision][:split], its Parquet/JSONL files); with --objective dpo, preference pairs " +
                          "(prompt/chosen/rejected). Required (with --resume, the run's saved value is used).",
            AllowMultipleArgumentsPerToken = true,
        };
        var valid = new Option<string[]>("--valid")
        {
            Description = "Held-out data (of --data's kind) for validation loss and, with --objective dpo, reward accuracy " +
                          "(and exact match when no --test: with pairs, on the chosen answers).",
            AllowMultipleArgumentsPerToken = true,
        };
        var test = new Option<string[]>("--test")
        {
            Description = "Held-out conversations for generation-based exact match.",
            AllowMultipleArgumentsPerToken = true,
        };
        var exactMatch = new Option<int>("--exact-match")
        {
            Description = "Greedy exact match on this many held-out conversations before and after (0 = off).",
            DefaultValueFactory = _ => 100,
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Run folder: checkpoints, metrics.jsonl and final/ go here.",
            Required = true,
        };
        var resume = new Option<bool>("--resume")
        {
            Description = "Continue the run in --output from its newest good checkpoint, with its saved settings (options given again override; " +
                          "a longer --max-steps or --epochs extends it).",
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Start over, deleting the earlier run's checkpoints in --output." };
        var validText = new Option<string[]>("--valid-text")
        {
            Description = "Plain text (.txt/.md/.jsonl/.parquet) to watch forgetting: " +
                          "its perplexity before and after is shown beside the answer metrics.",
            AllowMultipleArgumentsPerToken = true,
        };
        var neftune = new Option<double>("--neftune-alpha", "--neftune-noise-alpha")
        {
            Description = "NEFTune: uniform noise on the input embeddings while training, scaled alpha / sqrt(seq_len * hidden) " +
                          "(0 = off; the paper uses 5).",
        };
        var samplePrompts = new Option<string[]>("--sample-prompt")
        {
            Description = "Ask this (as a user turn) before and after training (and every --sample-every steps) and print the answers.",
        };
        var input = new InstructionInput();
        var preference = new PreferenceArguments();
        var methodArgs = new FineTuneMethod();
        var save = new SaveArguments();
        var reports = new ReportArguments();
        var resumeSettings = new ResumeSettings(output, resume, model, data);
        // Fine-tuning defaults: a lower rate and a short warm-up than pretraining, few epochs, no weight decay.
        var training = new TrainingArguments(new TrainingOptions
        {
            LearningRate = 1e-4, WarmupSteps = 10, Epochs = 2, BatchSize = 16, MicroBatchSize = 8, WeightDecay = 0,
            MinLrRatio = 0.1, KeepCheckpoints = 1,
        }, learningRateDefault: "1e-3 with --method lora or dora, whose adapters start at zero and need a larger step; 1e-4 with full and " +
                                "freeze; ten times less with --objective dpo");
        var cmd = new Command("finetune", "Fine-tune a model on domain text or instruction data (or preference pairs, --objective dpo): " +
                                          "full, freeze (chosen layers), LoRA or DoRA.")
        {
            new RunConfig(), model, data, valid, test, validText, exactMatch, output, resume, overwrite, samplePrompts, neftune,
        };
        input.AddTo(cmd);
        preference.AddTo(cmd);
        methodArgs.AddTo(cmd);
        training.AddTo(cmd);
        save.AddTo(cmd);
        reports.AddTo(cmd);
        resumeSettings.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            parse = resumeSettings.Complete(parse);
            var device = training.Device(parse);
            var kind = methodArgs.Kind(parse);
            methodArgs.BaseType(parse); // refused with full or freeze before anything loads
            var saveOptions = save.Read(parse);
            if (kind.TrainsAdapter() && saveOptions != new ModelSaveOptions())
                throw new SharpLMException("--save-dtype and --max-shard-size apply to full models (--method full or freeze); " +
                                           "a LoRA adapter is saved in F32 (merge it with `sharplm merge --save-dtype ...`)");
            var options = training.Read(parse);
            if (kind.TrainsAdapter() && !training.LearningRateGiven(parse))
                options = options with { LearningRate = 1e-3 }; // adapters start at zero and need a larger step
            var preferenceOptions = preference.Read(parse, input);
            bool dpo = preference.IsDpo(parse), precompute = preference.PrecomputeReference(parse);
            if (dpo && !training.LearningRateGiven(parse))
                options = options with { LearningRate = options.LearningRate / 10 }; // DPO moves a model that already answers
            options = options with { NeftuneAlpha = parse.GetValue(neftune) };
            var outputFolder = parse.GetValue(output)!;
            var resumePoint = parse.GetValue(resume) ? RunFolder.FindCheckpoint(outputFolder) : null;
            string? checkpoint = resumePoint?.Checkpoint;
            if (resumePoint is null && Distributed.IsMain) RunFolder.PrepareFresh(outputFolder, parse.GetValue(overwrite));
            var settings = RunSettings.Capture(parse);
            TrainingArguments.Record(settings, options);
            // Hub ids become snapshot folders here; the run's settings and its model card keep the ids.
            var baseName = parse.GetValue(model)!;
            var baseFolder = HubInputs.Model(baseName);
            var dataPaths = HubInputs.Data(parse.GetValue(data));
            settings.Fingerprints["tokenizer"] = Fingerprint.Tokenizer(baseFolder);
            settings.Fingerprints["data"] = Fingerprint.Files(dataPaths);
            resumeSettings.Check(parse, settings);

            using var loaded = PretrainedModel.Load(baseFolder, device: device);
            if (loaded.Adapter is not null)
                throw new SharpLMException($"{baseName} is a LoRA adapter: merge it first (`sharplm merge`) or fine-tune its base");
            var template = input.ChatTemplate(parse, baseFolder, loaded.Tokenizer);
            if (ReferenceEquals(template, ChatTemplates.Default) && parse.GetValue(input.Template) is null)
                template = UseChatMl(loaded, kind);
            var tokenizer = loaded.Tokenizer;
            // The fine-tuned model's generation_config.json lists the template's end-of-answer token (ChatML's
            // <|im_end|>) among its eos ids, as instruct models on the Hub do, so every tool stops there.
            loaded.Generation.EosTokenId = [.. loaded.StopTokens(template).Order()];
            var datasetOptions = input.DatasetOptions(parse, tokenizer);
            if (datasetOptions.MaxLength > loaded.Model.Config.MaxPositionEmbeddings)
                throw new SharpLMException($"--max-length {datasetOptions.MaxLength} is longer than the model's max_position_embeddings " +
                                           $"({loaded.Model.Config.MaxPositionEmbeddings})");

            ITrainingData trainData;
            ITrainingData? validData;
            List<InstructionRecord>? validRecords;
            if (dpo)
            {
                var trainPairs = PreferenceArguments.ReadPairs(parse, input, dataPaths, "training data", outputFolder);
                var validPairs = HubInputs.Data(parse.GetValue(valid)) is { Length: > 0 } vp
                    ? PreferenceArguments.ReadPairs(parse, input, vp, "validation data")
                    : null;
                trainData = PreferenceArguments.Dataset(trainPairs, tokenizer, template, datasetOptions);
                validData = validPairs is null ? null : PreferenceArguments.Dataset(validPairs, tokenizer, template, datasetOptions);
                // Exact match asks the validation prompts and expects the chosen answers.
                validRecords = validPairs?.Select(p => InstructionRecord.FromConversation(p.ChosenConversation)).ToList();
                PrintPairs((PreferenceDataset)trainData, (PreferenceDataset?)validData);
            }
            else
            {
                var instructions = InstructionDataset.Build(
                    input.Render(parse, input.Reader(parse, dataPaths), tokenizer, template, "training data", outputFolder),
                    datasetOptions);
                validRecords = HubInputs.Data(parse.GetValue(valid)) is { Length: > 0 } v ? input.Reader(parse, v).Read().ToList() : null;
                var validInstructions = validRecords is null ? null
                    : InstructionDataset.Build(validRecords.SelectMany(r => input.Examples(parse, r, tokenizer, template)),
                        datasetOptions with { Packing = false });
                PrintData(instructions, validInstructions);
                (trainData, validData) = (instructions, validInstructions);
            }
            var forgettingText = HubInputs.Data(parse.GetValue(validText)) is { Length: > 0 } texts
                ? TextForForgetting(texts, loaded, datasetOptions.MaxLength)
                : null;
            var testPaths = HubInputs.Data(parse.GetValue(test));
            var emItems = ExactMatchItems(parse, testPaths.Length > 0 ? input.Reader(parse, testPaths).Read() : validRecords,
                template, tokenizer, parse.GetValue(exactMatch));

            long total = loaded.Model.ParameterCount(); // the base's, before any adapter is added
            var trainable = methodArgs.Prepare(parse, loaded.Model, options, loaded.AddedTokens);
            long trainableCount = trainable.Sum(e => e.Parameter.numel());
            // The reference of preference training is the model as it is now, before training and before a resumed run's weights load.
            using var reference = !dpo ? null
                : kind.TrainsAdapter() ? ReferenceModel.AdaptersOff(loaded.Model)
                : precompute ? ReferenceModel.AsItIsNow(loaded.Model)
                : ReferenceModel.FrozenCopy(loaded.Model);
            var objective = dpo ? new DpoObjective(preferenceOptions, precompute ? null : reference) : null;
            using var trainer = new Trainer(loaded.Model, trainData, validData, options, Distributed.Group, objective);
            if (dpo && precompute) // after the trainer set the matmul precision, so the reference computes as the policy will
                foreach (var (set, label) in new[] { (trainData, "training"), (validData, "validation") })
                    if (set is PreferenceDataset pairs) PrecomputeReference(reference!, pairs, options.EffectiveMicroBatch, label);
            var content = methodArgs.Content(parse, tokenizer, template, loaded.Generation, baseFolder, baseName,
                SaveArguments.ForCheckpoints(saveOptions), loaded.AddedTokens);
            var checkpoints = new CheckpointManager(outputFolder, options.KeepCheckpoints, content);
            if (resumePoint is not null)
            {
                RunFolder.Restore(checkpoints, trainer, resumePoint, resumeSettings.AllowChanges(parse));
                AnsiConsole.MarkupLineInterpolated($"Resuming from [green]{checkpoint}[/] at step {trainer.State.Step}.");
            }
            if (Distributed.IsMain)
            {
                RunFolder.RecordCommand(outputFolder, "finetune", Environment.GetCommandLineArgs()[1..]);
                settings.Save(outputFolder);
            }
            List<(string, string)> described =
            [
                ("method", kind switch
                {
                    FineTuneMethodKind.Lora or FineTuneMethodKind.Dora when methodArgs.Lora(parse, loaded.AddedTokens) is var lora =>
                        $"{(lora.UseDora ? "DoRA" : "LoRA")} r={lora.Rank} alpha={lora.Alpha} dropout={lora.Dropout} " +
                        $"on {string.Join(",", lora.TargetModules)}" +
                        (methodArgs.BaseType(parse) == BaseDtype.BFloat16 ? ", frozen base in bf16" : ""),
                    _ => kind.ToString(),
                } + $": {trainableCount:N0} trainable parameters ({100.0 * trainableCount / total:F2}%)"),
                ("objective", dpo ? PreferenceArguments.Describe(preferenceOptions, kind.TrainsAdapter(), precompute)
                    : "SFT: next-token loss on the answers"),
                ("NEFTune", options.NeftuneAlpha > 0 ? $"alpha {options.NeftuneAlpha}: noise on the input embeddings while training" : "off"),
                ("template", template.Name + (dpo ? ", comparing the completions only"
                    : parse.GetValue(input.TrainOnPrompt) ? ", training on prompts too" : ", training on answers and end tokens only")),
                ("rows", $"max {datasetOptions.MaxLength} tokens, {(datasetOptions.Packing ? "packed" : "padded per batch")}, " +
                         $"over-long: {datasetOptions.Overflow}"),
            ];
            TrainingArguments.Print(options, device, trainer.State.TotalSteps, trainer.StepsPerEpoch,
                [("base model", $"{baseName} ({total:N0} parameters)"), .. described, ("output", outputFolder)],
                dpo ? "pairs" : datasetOptions.Packing ? "packed rows" : "examples");

            using var logs = reports.Open(parse, outputFolder, trainer);
            var view = new TrainingProgressView(training.LogEvery(parse));
            trainer.AddObserver(view);
            var lastEvaluation = new LastEvaluation();
            trainer.AddObserver(lastEvaluation);
            EvalMetrics? evaluationBefore = null;
            LossReport? textBefore = null;
            ExactMatchReport? emBefore = null;
            var prompts = parse.GetValue(samplePrompts) ?? [];
            if (Distributed.IsMain && reports.SampleEvery(parse) > 0)
                trainer.AddObserver(new TrainingSamples(trainer, reports.SampleEvery(parse),
                    prompts.Length > 0 ? prompts : [FirstQuestion(validRecords ?? (dpo
                        ? throw new SharpLMException("--sample-every with --objective dpo needs --sample-prompt or --valid pairs")
                        : input.Reader(parse, dataPaths).Read()))],
                    prompt => Answer(loaded, template, prompt)));
            if (validData is not null && checkpoint is null) evaluationBefore = trainer.Evaluate(); // every rank evaluates its share
            if (checkpoint is null && Distributed.IsMain) // the other ranks wait for the main one at the first step
            {
                if (forgettingText is not null) textBefore = TextLoss(loaded, forgettingText, "before");
                emBefore = RunExactMatch(loaded, template, emItems, "before");
                Ask(loaded, template, prompts, "before");
            }

            trainer.SaveCheckpoint = checkpoints.Save; // the trainer calls it on the main rank only
            var clock = Stopwatch.StartNew();
            long startStep = trainer.State.Step, startTokens = trainer.State.TokensSeen;
            using var stop = PretrainCommand.CancelOnCtrlC();
            view.Run(trainer.State.TotalSteps, startStep, () => trainer.Run(stop.Token));
            if (stop.IsCancellationRequested) return 130;
            if (!Distributed.IsMain) return 0;
            var seconds = clock.Elapsed.TotalSeconds;

            var final = Path.Combine(outputFolder, RunFolder.FinalFolder);
            if (Directory.Exists(final + ".partial")) Directory.Delete(final + ".partial", recursive: true);
            methodArgs.Content(parse, tokenizer, template, loaded.Generation, baseFolder, baseName, saveOptions, loaded.AddedTokens)
                .Save(final + ".partial", loaded.Model);
            FolderSwap.Replace(final + ".partial", final);
            checkpoints.FinishRun();
            var emAfter = RunExactMatch(loaded, template, emItems, "after");
            var textAfter = forgettingText is null ? null : TextLoss(loaded, forgettingText, "after");
            Ask(loaded, template, prompts, "after");

            var tokens = trainer.State.TokensSeen - startTokens;
            var evaluation = new List<(string Metric, string Before, string After)>();
            if (lastEvaluation.Metrics is { } after)
                evaluation.AddRange(ValidationRows(after, evaluationBefore, trainer.Options.Precision == Precision.Bf16 ? "bf16" : "fp32"));
            if (emAfter is not null)
                evaluation.Add(($"exact match ({emAfter.Total} held out, greedy, fp32)", emBefore is null ? "" : $"{emBefore.Rate:P1}",
                    $"{emAfter.Rate:P1}"));
            if (textAfter is not null)
                evaluation.Add(($"text perplexity, forgetting ({textAfter.TargetTokens:N0} tokens, fp32)",
                    textBefore is null ? "" : $"{textBefore.Perplexity:F2}", $"{textAfter.Perplexity:F2}"));
            var summary = new Table().Border(TableBorder.Rounded).AddColumns("", "before", "after");
            foreach (var (metric, before, afterValue) in evaluation) summary.AddRow(metric, before, afterValue);
            summary.AddRow("steps", "", $"{trainer.State.Step - startStep:N0} in {seconds:F0} s");
            summary.AddRow("throughput", "", $"{tokens / seconds:N0} tokens/s (padding included)");
            summary.AddRow("peak memory", "", $"{Process.GetCurrentProcess().PeakWorkingSet64 / 1e9:F2} GB");
            summary.AddRow(kind.TrainsAdapter() ? "adapter" : "model", "", Markup.Escape(final));
            AnsiConsole.Write(summary);
            new ModelCard
            {
                BaseModel = baseName,
                IsAdapter = kind.TrainsAdapter(),
                Datasets = [.. parse.GetValue(data)!.Select(HubInputs.DatasetName)],
                Tags =
                [
                    kind == FineTuneMethodKind.Full ? "full-fine-tune" : kind.ToString().ToLowerInvariant(), template.Name,
                    .. dpo ? new[] { "dpo" } : [],
                ],
                Training =
                [
                    .. described, ("learning rate", $"{options.LearningRate:G3}, {trainer.State.Step:N0} steps"),
                    ("batch", $"{options.BatchSize} {(dpo ? "pairs" : datasetOptions.Packing ? "packed rows" : "examples")}"),
                ],
                Evaluation = evaluation,
                Usage = $"./sharplm chat --model {final}",
            }.Save(final);
            if (kind.TrainsAdapter())
                AnsiConsole.MarkupLine($"Chat with it: [bold]./sharplm chat --model {Markup.Escape(final)}[/]; merge it: " +
                                       $"[bold]./sharplm merge --model {Markup.Escape(final)} --output {Markup.Escape(outputFolder)}/merged[/]");
            return 0;
        });
        return cmd;
    }

    /// <summary>A model without a template of its own whose tokenizer lacks ChatML's markers gets them as new special
    /// tokens, so that its fine-tune uses ChatML, the template llama.cpp, Ollama and every chat tool know. Where they
    /// cannot be added (a llama2.c tokenizer; LoRA on a model whose head is its embedding) it keeps the default template.</summary>
    static ChatTemplate UseChatMl(PretrainedModel loaded, FineTuneMethodKind kind)
    {
        if ((!kind.TrainsAdapter() || loaded.Model.lm_head is not null) && loaded.AddSpecialTokens(BpeTrainerOptions.ChatMlMarkers))
        {
            var rows = loaded.AddedTokens!;
            var trainedToo = kind switch
            {
                FineTuneMethodKind.Lora => "LoRA adapts lm_head too",
                FineTuneMethodKind.Dora => "DoRA adapts lm_head too",
                FineTuneMethodKind.Freeze => "embed_tokens and lm_head are trained too",
                _ => "they are trained with the rest",
            };
            AnsiConsole.MarkupLine("[yellow]note:[/] " + Markup.Escape(
                $"added ChatML's {string.Join(" and ", BpeTrainerOptions.ChatMlMarkers)} to the tokenizer " +
                $"as ids {rows.FirstId}-{rows.FirstId + rows.Count - 1} " +
                $"for the chatml template; their embedding and head rows start at the mean of the others and {trainedToo} " +
                "(--template default keeps the tokenizer as it is)"));
            return ChatTemplates.DefaultFor(loaded.Tokenizer);
        }
        AnsiConsole.MarkupLine("[yellow]note:[/] template \"default\": this tokenizer lacks ChatML's <|im_start|> and <|im_end|> tokens and " +
                               "cannot take them here (`sharplm tokenizer train` adds them). llama.cpp and Ollama do not know this template: " +
                               "`export` will say what they need.");
        return ChatTemplates.Default;
    }

    /// <summary>Plain text cut into packed rows of the fine-tuning length, for the before/after perplexity that shows
    /// how much of what the base knew the fine-tune forgot.</summary>
    static PretrainingDataset TextForForgetting(string[] paths, PretrainedModel loaded, int maxLength)
    {
        var documents = CorpusTokenizer.Tokenize(new CorpusReader(paths, new CorpusOptions()).ReadDocuments(), loaded.Tokenizer);
        var special = loaded.Tokenizer.Special;
        int eos = special.Eos ?? throw new SharpLMException("the tokenizer has no end token to separate the forgetting text's documents");
        return PretrainingDataset.Build(documents, maxLength, RowMode.Packed, special.Bos, eos, special.Pad ?? eos);
    }

    static LossReport TextLoss(PretrainedModel loaded, PretrainingDataset text, string when)
    {
        using var _ = WeightPrecision(loaded.Model);
        var report = EvalCommand.Evaluate(loaded, text, 8, $"text perplexity {when}");
        AnsiConsole.MarkupLineInterpolated($"[blue]text perplexity {when}[/]: {report.Perplexity:F2} ({report.TargetTokens:N0} tokens)");
        return report;
    }

    /// <summary>The validation rows of the before/after table: the loss (with perplexity for next-token loss), and for
    /// preference training the reward accuracy and margin.</summary>
    static IEnumerable<(string, string, string)> ValidationRows(EvalMetrics after, EvalMetrics? before, string precision)
    {
        if (after.Perplexity is not null)
        {
            yield return ($"validation loss (answers, {precision} matmuls)", before is { } b ? $"{b.Loss:F4} (ppl {b.Perplexity:F2})" : "",
                $"{after.Loss:F4} (ppl {after.Perplexity:F2})");
            yield break;
        }
        yield return ($"validation DPO loss ({after.Units:N0} pairs, {precision} matmuls)", before is null ? "" : $"{before.Loss:F4}",
            $"{after.Loss:F4}");
        foreach (var (name, label, format) in new[] { ("rewards/accuracies", "reward accuracy", "P1"), ("rewards/margins", "reward margin", "F4") })
            yield return ($"validation {label} ({name})", before?.Metrics?[name].ToString(format) ?? "", after.Metrics![name].ToString(format));
    }

    /// <summary>Keeps the latest validation's figures for the summary.</summary>
    sealed class LastEvaluation : ITrainingObserver
    {
        public EvalMetrics? Metrics { get; private set; }
        public void OnEvaluation(EvalMetrics eval) => Metrics = eval;
    }

    static void PrecomputeReference(ReferenceModel reference, PreferenceDataset pairs, int batchSize, string label)
    {
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn()).Start(ctx =>
        {
            var task = ctx.AddTask($"reference log-probabilities of the {label} pairs", maxValue: pairs.Count);
            reference.Precompute(pairs, batchSize, Distributed.Group, (done, total) => (task.MaxValue, task.Value) = (total, done));
        });
    }

    static void PrintPairs(PreferenceDataset train, PreferenceDataset? valid)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("data", "pairs", "tokens", "completion tokens", "truncated", "dropped");
        foreach (var (name, d) in new[] { ("train", train), ("valid", valid) })
            if (d is not null) table.AddRow(name, $"{d.Count:N0}", $"{d.Tokens:N0}", $"{d.TrainedTokens:N0}", $"{d.Truncated:N0}", $"{d.Dropped:N0}");
        AnsiConsole.Write(table);
    }

    static void PrintData(InstructionDataset train, InstructionDataset? valid)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("data", "examples", "rows", "tokens", "trained tokens", "truncated", "dropped");
        foreach (var (name, d) in new[] { ("train", train), ("valid", valid) })
            if (d is not null)
                table.AddRow(name, $"{d.Examples:N0}", $"{d.Count:N0}", $"{d.Tokens:N0}", $"{d.TrainedTokens:N0}", $"{d.Truncated:N0}",
                    $"{d.Dropped:N0}");
        AnsiConsole.Write(table);
    }

    static List<ExactMatchItem> ExactMatchItems(ParseResult parse, IEnumerable<InstructionRecord>? records, ChatTemplate template,
        Tokenization.ITokenizer tokenizer, int count)
    {
        if (records is null || count <= 0) return [];
        return records.Where(r => r.Conversation is not null).Take(count)
            .Select(r => ExactMatchItem.FromConversation(r.Conversation!, template, tokenizer)).ToList();
    }

    internal static ExactMatchReport? RunExactMatch(PretrainedModel loaded, ChatTemplate template, List<ExactMatchItem> items, string when)
    {
        if (items.Count == 0) return null;
        ExactMatchReport report = null!;
        using var _ = WeightPrecision(loaded.Model);
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn()).Start(ctx =>
        {
            var task = ctx.AddTask($"exact match {when}", maxValue: items.Count);
            report = ExactMatch.Evaluate(loaded.Model, loaded.Tokenizer, items, loaded.StopTokens(template), template.StopStrings,
                maxNewTokens: 48, samplesToKeep: 3, progress: (done, _) => task.Value = done);
        });
        AnsiConsole.MarkupLineInterpolated($"[blue]exact match {when}[/]: {report.Correct}/{report.Total} ({report.Rate:P1})");
        foreach (var (label, expected, got, match) in report.Samples)
            AnsiConsole.MarkupLine((match ? "  [green]✓[/] " : "  [red]✗[/] ") +
                                   Markup.Escape($"{label} -> {got.Trim()}  (expected: {expected})"));
        return report;
    }

    /// <summary>Answers are generated in the weights' own precision (fp32), as `eval`, `generate`, `chat` and `serve`
    /// do, even while training runs its matmuls in bf16, so the same model gives the same greedy answers everywhere.</summary>
    static IDisposable WeightPrecision(Model.LlamaForCausalLM model)
    {
        var training = model.ComputeType;
        model.SetComputeType(null);
        return new Restore(() => model.SetComputeType(training));
    }

    sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    static void Ask(PretrainedModel loaded, ChatTemplate template, string[] prompts, string when)
    {
        foreach (var prompt in prompts)
            AnsiConsole.MarkupLineInterpolated($"[blue]{when}:[/] [bold]{prompt}[/] -> {Answer(loaded, template, prompt)}");
    }

    /// <summary>The model's greedy answer to <paramref name="prompt"/> as a user turn.</summary>
    static string Answer(PretrainedModel loaded, ChatTemplate template, string prompt)
    {
        using var _ = WeightPrecision(loaded.Model);
        var ids = template.RenderPrompt(loaded.Tokenizer, [new ChatMessage(ChatMessage.UserRole, prompt)]);
        return ExactMatch.GreedyAnswer(new Generation.TokenGenerator(loaded.Model), loaded.Tokenizer, ids, loaded.StopTokens(template),
            template.StopStrings, 60).Trim();
    }

    /// <summary>The sample prompt when none is given: the first user turn of the data (of plain text, its start).</summary>
    static string FirstQuestion(IEnumerable<InstructionRecord> records)
    {
        var first = records.FirstOrDefault(r => r.Conversation is not null || !string.IsNullOrEmpty(r.Text));
        return first?.Conversation?.Messages.FirstOrDefault(m => m.Role == ChatMessage.UserRole)?.Content
               ?? string.Join(' ', (first?.Text ?? "").Split(' ').Take(8));
    }
}
