using System.CommandLine;
using System.CommandLine.Parsing;
using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Tokenization;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>The options every command that reads fine-tuning data shares (format, template, prompt masking, length,
/// packing), and reading and rendering it with a progress display.</summary>
sealed class InstructionInput
{
    public readonly Option<InstructionFormat> Format = new("--format")
    {
        Description = "Record layout: auto (per file, from the fields), text, alpaca, prompt-completion or messages.",
        HelpName = "auto|text|alpaca|prompt-completion|messages",
        DefaultValueFactory = _ => InstructionFormat.Auto,
        CustomParser = ParseFormat,
    };
    public readonly Option<string?> Template = new("--template")
    {
        Description = "Chat template: default, chatml, a template .json file, or a model folder. "
                      + "Default: the template saved with the model (or its own Jinja chat_template), else default.",
    };
    public readonly Option<bool> TrainOnPrompt = new("--train-on-prompt")
    {
        Description = "Train on every token (system, user and template text too), not only on the answers.",
    };
    public readonly Option<int> MaxLength = new("--max-length")
    {
        Description = "Tokens per training row (the sequence length the model sees).",
        DefaultValueFactory = _ => 512,
    };
    public readonly Option<Data.Overflow> Overflow = new("--overflow")
    {
        Description = "Longer examples: Truncate (cut the end) or Drop.",
        DefaultValueFactory = _ => Data.Overflow.Truncate,
    };
    public readonly Option<bool> Packing = new("--packing")
    {
        Description = "Pack several examples into each row (they cannot see each other): less padding, faster training.",
    };
    public readonly Option<bool> SkipInvalid = new("--skip-invalid")
    {
        Description = "Skip and count bad records (malformed lines, missing fields, empty answers) instead of stopping at the first one.",
    };

    readonly TemplateVariables templateVariables = new();

    public void AddTo(Command command)
    {
        templateVariables.AddTo(command);
        foreach (var option in new Option[] { Format, Template, TrainOnPrompt, MaxLength, Overflow, Packing, SkipInvalid })
            command.Options.Add(option);
    }

    /// <summary>--template, or the template saved in <paramref name="modelFolder"/> (a model or tokenizer path),
    /// or the default template for the tokenizer, with any --template-var.</summary>
    public ChatTemplate ChatTemplate(ParseResult parse, string? modelFolder, Tokenization.ITokenizer tokenizer) =>
        templateVariables.Apply(parse, ChatTemplates.Resolve(parse.GetValue(Template), modelFolder, tokenizer));

    public InstructionReader Reader(ParseResult parse, IEnumerable<string> paths) =>
        new(paths, new InstructionReaderOptions { Format = parse.GetValue(Format), SkipInvalid = parse.GetValue(SkipInvalid) });

    /// <summary>Padding uses the tokenizer's pad token, else its end token: either way it is masked out.</summary>
    public InstructionDatasetOptions DatasetOptions(ParseResult parse, ITokenizer tokenizer) => new()
    {
        MaxLength = parse.GetValue(MaxLength),
        Overflow = parse.GetValue(Overflow),
        Packing = parse.GetValue(Packing),
        PadId = tokenizer.Special.Pad ?? tokenizer.Special.Eos ?? 0,
    };

    /// <summary>Reads and renders every record under <paramref name="paths"/>, showing progress, then what was skipped
    /// (listed in full in <paramref name="runFolder"/>, when given).</summary>
    public List<TemplatedExample> Render(ParseResult parse, InstructionReader reader, ITokenizer tokenizer, ChatTemplate template, string label,
        string? runFolder = null)
    {
        var examples = new List<TemplatedExample>();
        AnsiConsole.Status().Start($"Reading {label}...", ctx =>
        {
            foreach (var record in reader.Read())
            {
                examples.AddRange(Examples(parse, record, tokenizer, template));
                if (examples.Count % 1000 == 0) ctx.Status($"Reading {label}: {examples.Count:N0} records");
            }
        });
        SkippedRecordsReport.Show(reader.Stats.SkippedRecords, label, runFolder);
        return examples;
    }

    /// <summary>A record rendered with the template: domain text is cut into rows of --max-length rather than
    /// truncated; a conversation is one example (--overflow decides what happens when it is too long).</summary>
    public IEnumerable<TemplatedExample> Examples(ParseResult parse, InstructionRecord record, ITokenizer tokenizer, ChatTemplate template)
    {
        var example = TemplatedExample.FromRecord(record, template, tokenizer, parse.GetValue(TrainOnPrompt));
        return record.Text is not null ? example.Chunks(parse.GetValue(MaxLength)) : [example];
    }

    static InstructionFormat ParseFormat(ArgumentResult result)
    {
        string value = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (Enum.TryParse(value.Replace("-", ""), ignoreCase: true, out InstructionFormat format) && Enum.IsDefined(format)
            && !char.IsDigit(value.FirstOrDefault()))
            return format;
        result.AddError($"--format {value}: expected auto, text, alpaca, prompt-completion or messages");
        return InstructionFormat.Auto;
    }
}
