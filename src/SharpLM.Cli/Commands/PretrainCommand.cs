using System.CommandLine;
using System.Diagnostics;
using SharpLM.Data;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.IO;
using SharpLM.Model;
using SharpLM.Tokenization;
using SharpLM.Training;
using Spectre.Console;
using TorchSharp;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm pretrain`: train a Llama-style model from scratch on a text corpus.</summary>
static class PretrainCommand
{
    public static Command Create()
    {
        var data = new Option<string[]>("--data", "-d")
        {
            Description = "Training text: files or folders of .txt/.md/.jsonl/.parquet. Required (with --resume, the run's saved value is used).",
            AllowMultipleArgumentsPerToken = true,
        };
        var valid = new Option<string[]>("--valid") { Description = "Validation text (same formats).", AllowMultipleArgumentsPerToken = true };
        var tokenizerPath = new Option<string>("--tokenizer", "-t")
        {
            Description = "tokenizer.json (from `sharplm tokenizer train`), or a folder holding one. Required (with --resume, " +
                          "the run's saved value is used).",
        };
        var preset = new Option<string>("--preset")
        {
            Description = $"Model size: {string.Join(", ", ModelPresets.Names)}. vocab_size follows the tokenizer.",
            DefaultValueFactory = _ => "small",
        };
        var modelConfig = new Option<string?>("--model-config")
        {
            Description = "A Hugging Face config.json describing the model's architecture instead of a preset.",
        };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per training row.", DefaultValueFactory = _ => 512 };
        var rows = new Option<RowMode>("--rows")
        {
            Description = "Packed: documents joined into full rows (default). Padded: the tutorial's one document per row, padded or cut.",
            DefaultValueFactory = _ => RowMode.Packed,
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
        var samplePrompts = new Option<string[]>("--sample-prompt")
        {
            Description = "Print a sample continuation of this prompt before and after training (and every --sample-every steps).",
            AllowMultipleArgumentsPerToken = false,
        };
        var sampleTokens = new Option<int>("--sample-tokens") { Description = "Length of the samples.", DefaultValueFactory = _ => 60 };
        var corpus = new CorpusInput();
        var training = new TrainingArguments(new TrainingOptions { MicroBatchSize = 8 });
        var save = new SaveArguments();
        var reports = new ReportArguments();
        var resumeSettings = new ResumeSettings(output, resume, data, tokenizerPath);

        var cmd = new Command("pretrain", "Pretrain a Llama-style model from scratch (next-token prediction) on a text corpus.")
        {
            new RunConfig(), data, valid, tokenizerPath, preset, modelConfig, seqLen, rows, output, resume, overwrite, samplePrompts, sampleTokens,
        };
        corpus.AddTo(cmd);
        training.AddTo(cmd);
        save.AddTo(cmd);
        reports.AddTo(cmd);
        resumeSettings.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            parse = resumeSettings.Complete(parse);
            var device = training.Device(parse);
            var options = training.Read(parse);
            var saveOptions = save.Read(parse);
            var outputFolder = parse.GetValue(output)!;
            bool resuming = parse.GetValue(resume);
            var resumePoint = resuming ? RunFolder.FindCheckpoint(outputFolder) : null;
            string? checkpoint = resumePoint?.Checkpoint;
            if (!resuming && Distributed.IsMain) RunFolder.PrepareFresh(outputFolder, parse.GetValue(overwrite));
            var settings = RunSettings.Capture(parse);
            TrainingArguments.Record(settings, options);
            var tokenizerSource = HubInputs.Model(parse.GetValue(tokenizerPath)!);
            var dataPaths = HubInputs.Data(parse.GetValue(data));
            settings.Fingerprints["tokenizer"] = Fingerprint.Tokenizer(tokenizerSource);
            settings.Fingerprints["data"] = Fingerprint.Files(dataPaths);
            resumeSettings.Check(parse, settings);

            var tokenizer = TokenizerLoader.Load(tokenizerSource);
            var config = checkpoint is not null
                ? LlamaConfig.Load(Path.Combine(checkpoint, ModelFolder.ConfigFile))
                : parse.GetValue(modelConfig) is { } cp ? LlamaConfig.Load(cp) : ModelPresets.Get(parse.GetValue(preset)!);
            if (checkpoint is null && parse.GetValue(modelConfig) is null) config.VocabSize = tokenizer.VocabSize;
            PretrainedModel.CheckVocabulary(tokenizer, config, checkpoint ?? "the model config");
            int seq = parse.GetValue(seqLen);
            if (seq > config.MaxPositionEmbeddings)
                throw new SharpLMException($"--seq-len {seq} is longer than the model's max_position_embeddings ({config.MaxPositionEmbeddings})");
            int? bos = tokenizer.Special.Bos; // none for tokenizers such as Qwen's: documents start bare
            int eos = tokenizer.Special.Eos ?? throw new SharpLMException("the tokenizer has no end token ([EOT] or </s>)");
            int pad = tokenizer.Special.Pad ?? eos;

            var mode = parse.GetValue(rows);
            var trainDocuments = corpus.Tokenize(parse, dataPaths, tokenizer, "training data", outputFolder);
            var validDocuments = HubInputs.Data(parse.GetValue(valid)) is { Length: > 0 } v
                ? corpus.Tokenize(parse, v, tokenizer, "validation data", outputFolder)
                : null;
            var trainData = PretrainingDataset.Build(trainDocuments, seq, mode, bos, eos, pad);
            var validData = validDocuments is null ? null : PretrainingDataset.Build(validDocuments, seq, mode, bos, eos, pad);

            using var model = new LlamaForCausalLM(config);
            model.InitializeWeights(options.Seed); // on the CPU, so a seed gives the same start on every device
            model.to(device);
            using var trainer = new Trainer(model, trainData, validData, options, Distributed.Group);
            var checkpoints = new CheckpointManager(outputFolder, options.KeepCheckpoints,
                ModelFolder.CheckpointContent(tokenizer, options: SaveArguments.ForCheckpoints(saveOptions)));
            if (resumePoint is not null)
            {
                RunFolder.Restore(checkpoints, trainer, resumePoint, resumeSettings.AllowChanges(parse));
                AnsiConsole.MarkupLineInterpolated($"Resuming from [green]{checkpoint}[/] at step {trainer.State.Step}.");
            }
            if (Distributed.IsMain)
            {
                RunFolder.RecordCommand(outputFolder, "pretrain", Environment.GetCommandLineArgs()[1..]);
                settings.Save(outputFolder);
            }

            TrainingArguments.Print(options, device, trainer.State.TotalSteps, trainer.StepsPerEpoch,
            [
                ("model", $"{config.NumHiddenLayers} layers x {config.HiddenSize}, {config.NumAttentionHeads}/{config.NumKeyValueHeads} heads, " +
                          $"vocab {config.VocabSize}: {model.ParameterCount():N0} parameters"),
                ("data", $"{trainData.Count:N0} rows of {seq} tokens ({mode}), {trainData.InputTokens:N0} tokens per epoch" +
                         (validData is null ? "" : $"; validation {validData.Count:N0} rows")),
                ("output", outputFolder),
            ]);

            var prompts = parse.GetValue(samplePrompts) ?? [];
            var sampling = new SamplingOptions
            {
                MaxNewTokens = parse.GetValue(sampleTokens), Seed = 0, Temperature = 0.8f, RepetitionPenalty = 1.2f,
            };
            using var logs = reports.Open(parse, outputFolder, trainer);
            var view = new TrainingProgressView(training.LogEvery(parse));
            trainer.AddObserver(view);
            if (Distributed.IsMain && reports.SampleEvery(parse) > 0)
                trainer.AddObserver(new TrainingSamples(trainer, reports.SampleEvery(parse),
                    prompts.Length > 0 ? prompts : [StartOf(validDocuments ?? trainDocuments, tokenizer)],
                    prompt => Continue(model, tokenizer, prompt, sampling)));
            double? validBefore = null;
            if (checkpoint is null)
            {
                if (validData is not null) validBefore = trainer.Evaluate().Loss;
                if (Distributed.IsMain) PrintSamples(model, tokenizer, prompts, sampling, "before training");
            }

            trainer.SaveCheckpoint = checkpoints.Save; // the trainer calls it on the main rank only
            var clock = Stopwatch.StartNew();
            long startStep = trainer.State.Step, startTokens = trainer.State.TokensSeen;
            using var stop = CancelOnCtrlC();
            view.Run(trainer.State.TotalSteps, startStep, () => trainer.Run(stop.Token));
            if (stop.IsCancellationRequested) return 130;
            if (!Distributed.IsMain) return 0;

            var final = Path.Combine(outputFolder, RunFolder.FinalFolder);
            ModelFolder.Save(final + ".partial", model, tokenizer, options: saveOptions);
            FolderSwap.Replace(final + ".partial", final);
            checkpoints.FinishRun();
            PrintSamples(model, tokenizer, prompts, sampling, "after training");

            var seconds = clock.Elapsed.TotalSeconds;
            var tokens = trainer.State.TokensSeen - startTokens;
            var summary = new Table().Border(TableBorder.Rounded).AddColumns("", "value");
            summary.AddRow("steps", $"{trainer.State.Step - startStep:N0} in {seconds:F0} s");
            summary.AddRow("throughput", $"{tokens / seconds:N0} tokens/s ({tokens / seconds * config.TrainingFlopsPerToken(seq) / 1e9:F0} GFLOP/s)");
            summary.AddRow("final train loss", $"{trainer.State.LastLoss:F4}");
            if (trainer.State.LastValidLoss is { } after)
                summary.AddRow("validation perplexity",
                    validBefore is { } before ? $"{Math.Exp(before):F1} -> {Math.Exp(after):F1}" : $"{Math.Exp(after):F1}");
            summary.AddRow("model", final);
            AnsiConsole.Write(summary);
            return 0;
        });
        return cmd;
    }

    static void PrintSamples(LlamaForCausalLM model, ITokenizer tokenizer, string[] prompts, SamplingOptions sampling, string when)
    {
        foreach (var prompt in prompts)
            AnsiConsole.MarkupLineInterpolated($"[blue]sample {when}:[/] [bold]{prompt}[/]{Continue(model, tokenizer, prompt, sampling)}");
    }

    /// <summary>The model's continuation of <paramref name="prompt"/>, up to the end token.</summary>
    static string Continue(LlamaForCausalLM model, ITokenizer tokenizer, string prompt, SamplingOptions sampling)
    {
        var stops = tokenizer.Special.Eos is { } eos ? new HashSet<int> { eos } : [];
        int[] ids = tokenizer.Special.Bos is { } bos ? [bos, .. tokenizer.Encode(prompt)] : tokenizer.Encode(prompt);
        return new TokenGenerator(model).GenerateText(new GenerationRequest(ids, sampling, stops), tokenizer).Text;
    }

    /// <summary>The sample prompt when none is given: the first few tokens of the first document.</summary>
    static string StartOf(List<int[]> documents, ITokenizer tokenizer) =>
        documents.FirstOrDefault(d => d.Length > 0) is { } first ? tokenizer.Decode(first[..Math.Min(8, first.Length)]) : "";

    /// <summary>First Ctrl+C: finish the step, save a checkpoint and stop. Second: the default (kill).</summary>
    internal static CancellationTokenSource CancelOnCtrlC()
    {
        var source = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (source.IsCancellationRequested) return;
            e.Cancel = true;
            source.Cancel();
            AnsiConsole.MarkupLine("[yellow]stopping after this step; saving a checkpoint...[/]");
        };
        return source;
    }
}
