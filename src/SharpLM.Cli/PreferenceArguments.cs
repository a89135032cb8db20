using System.CommandLine;
using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Tokenization;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli;

public enum TrainingObjectiveKind { Sft, Dpo }

/// <summary>The `finetune` options of preference training (--objective dpo and its settings), and reading preference
/// pairs with a progress display.</summary>
sealed class PreferenceArguments
{
    public readonly Option<TrainingObjectiveKind> Objective = CreateObjective();

    readonly Option<double> beta = new("--beta")
    {
        Description = "DPO: how far the model may move from the starting model (the scale of the implicit reward; IPO's tau).",
        DefaultValueFactory = _ => new PreferenceOptions().Beta,
    };
    readonly Option<PreferenceLoss> loss = new("--loss-type")
    {
        Description = "DPO: Sigmoid (DPO's loss) or Ipo (IPO's, per completion token), as TRL defines them.",
        DefaultValueFactory = _ => PreferenceLoss.Sigmoid,
    };
    readonly Option<double> labelSmoothing = new("--label-smoothing")
    {
        Description = "DPO: the assumed share of pairs whose preference is the wrong way round, in [0, 0.5) (conservative DPO; 0 = off).",
    };
    readonly Option<bool> precomputeReference = new("--precompute-ref", "--precompute-ref-log-probs")
    {
        Description = "DPO: compute the starting model's log-probabilities of every pair once before training, so that full and freeze " +
                      "fine-tuning need no frozen copy of the model in memory (LoRA needs none either way: its reference is the base with " +
                      "the adapters off).",
    };

    /// <summary>--objective, also for `data preview`.</summary>
    public static Option<TrainingObjectiveKind> CreateObjective() => new("--objective")
    {
        Description = "Sft: learn the answers of instruction data. Dpo: learn from preference pairs (prompt, chosen, rejected: TRL's " +
                      "layouts) to prefer the chosen answer, Direct Preference Optimization against the starting model.",
        DefaultValueFactory = _ => TrainingObjectiveKind.Sft,
    };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Objective, beta, loss, labelSmoothing, precomputeReference }) command.Options.Add(option);
    }

    public bool IsDpo(ParseResult parse) => parse.GetValue(Objective) == TrainingObjectiveKind.Dpo;

    public bool PrecomputeReference(ParseResult parse) => parse.GetValue(precomputeReference);

    /// <summary>The preference settings; refuses them without --objective dpo, and the SFT-only data options with it.</summary>
    public PreferenceOptions Read(ParseResult parse, InstructionInput input)
    {
        // Values other than the defaults, not options merely given: a run's run.yaml (resume, --config) lists every default.
        var defaults = new PreferenceOptions();
        var dpoOnly = new (Option Option, bool Set)[]
        {
            (beta, parse.GetValue(beta) != defaults.Beta), (loss, parse.GetValue(loss) != defaults.Loss),
            (labelSmoothing, parse.GetValue(labelSmoothing) != defaults.LabelSmoothing), (precomputeReference, parse.GetValue(precomputeReference)),
        }.Where(o => o.Set).Select(o => o.Option);
        if (!IsDpo(parse))
        {
            if (dpoOnly.FirstOrDefault() is { } given) throw new SharpLMException($"{given.Name} applies to --objective dpo");
            return new PreferenceOptions();
        }
        if (parse.GetValue(input.Packing)) throw new SharpLMException("--packing does not apply to --objective dpo: each side of a pair is a row");
        if (parse.GetValue(input.TrainOnPrompt))
            throw new SharpLMException("--train-on-prompt does not apply to --objective dpo: the pairs are compared on their completions");
        if (parse.GetValue(input.Format) != InstructionFormat.Auto)
            throw new SharpLMException("--format does not apply to --objective dpo: preference records are prompt/chosen/rejected");
        var options = new PreferenceOptions
        {
            Beta = parse.GetValue(beta), Loss = parse.GetValue(loss), LabelSmoothing = parse.GetValue(labelSmoothing),
        };
        options.Validate(); // before the model loads
        return options;
    }

    /// <summary>Reads the pairs under <paramref name="paths"/>, showing progress, then what was skipped (listed in full in
    /// <paramref name="runFolder"/>, when given).</summary>
    public static List<PreferenceRecord> ReadPairs(ParseResult parse, InstructionInput input, IEnumerable<string> paths, string label,
        string? runFolder = null)
    {
        var reader = new PreferenceReader(paths, parse.GetValue(input.SkipInvalid));
        var records = new List<PreferenceRecord>();
        AnsiConsole.Status().Start($"Reading {label}...", ctx =>
        {
            foreach (var record in reader.Read())
            {
                records.Add(record);
                if (records.Count % 1000 == 0) ctx.Status($"Reading {label}: {records.Count:N0} pairs");
            }
        });
        SkippedRecordsReport.Show(reader.Skipped, label, runFolder);
        return records;
    }

    /// <summary>The pairs rendered with the template, as training rows.</summary>
    public static PreferenceDataset Dataset(IEnumerable<PreferenceRecord> records, ITokenizer tokenizer, ChatTemplate template,
        InstructionDatasetOptions options) =>
        PreferenceDataset.Build(records.Select(r => PreferencePair.FromRecord(r, template, tokenizer)), options);

    /// <summary>What the run compares with, for the settings table.</summary>
    public static string Describe(PreferenceOptions options, bool lora, bool precompute) =>
        $"DPO, {options.Loss} loss, beta {options.Beta}" + (options.LabelSmoothing > 0 ? $", label smoothing {options.LabelSmoothing}" : "") +
        "; reference: the starting model, " + (precompute ? "its log-probabilities computed before training"
            : lora ? "the base with the adapters off" : "a frozen copy in memory");
}
