using System.Text;
using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Hub;

/// <summary>
/// A model folder's README.md as the Hugging Face Hub reads it: YAML front matter (base_model, library_name, tags,
/// datasets, pipeline_tag) and a body with the training settings and the evaluation before and after, as TRL writes
/// for its fine-tunes.
/// </summary>
public sealed record ModelCard
{
    public const string FileName = "README.md";

    /// <summary>The model fine-tuned from, as the user named it (a folder or a Hub id).</summary>
    public required string BaseModel { get; init; }

    /// <summary>A PEFT adapter folder rather than a whole model (library_name: peft, as the Hub expects for adapters).</summary>
    public bool IsAdapter { get; init; }

    public IReadOnlyList<string> Datasets { get; init; } = [];
    public IReadOnlyList<string> Tags { get; init; } = [];
    public IReadOnlyList<(string Setting, string Value)> Training { get; init; } = [];
    public IReadOnlyList<(string Metric, string Before, string After)> Evaluation { get; init; } = [];

    /// <summary>A command line that uses the model.</summary>
    public string? Usage { get; init; }

    public string Render(string title)
    {
        // JSON strings are valid YAML scalars, so every value is quoted the same safe way.
        static string Quote(string value) => JsonSerializer.Serialize(value);
        static string Cell(string value) => value.Replace("|", "\\|").Replace("\n", " ");
        var text = new StringBuilder("---\n");
        text.Append($"base_model: {Quote(BaseModel)}\n");
        text.Append($"library_name: {(IsAdapter ? "peft" : "sharplm")}\n");
        text.Append("pipeline_tag: text-generation\n");
        text.Append("tags:\n");
        foreach (var tag in new[] { "sharplm" }.Concat(Tags).Distinct()) text.Append($"- {Quote(tag)}\n");
        if (Datasets.Count > 0)
        {
            text.Append("datasets:\n");
            foreach (var dataset in Datasets) text.Append($"- {Quote(dataset)}\n");
        }
        text.Append("---\n\n");
        text.Append($"# {title}\n\n");
        text.Append($"{(IsAdapter ? "A LoRA adapter for" : "A fine-tune of")} `{BaseModel}`, made with SharpLM (`sharplm finetune`).\n");
        if (Training.Count > 0)
        {
            text.Append("\n## Training\n\n| setting | value |\n|---|---|\n");
            foreach (var (setting, value) in Training) text.Append($"| {Cell(setting)} | {Cell(value)} |\n");
        }
        if (Evaluation.Count > 0)
        {
            text.Append("\n## Evaluation\n\n| metric | before | after |\n|---|---|---|\n");
            foreach (var (metric, before, after) in Evaluation) text.Append($"| {Cell(metric)} | {Cell(before)} | {Cell(after)} |\n");
        }
        if (Usage is not null) text.Append($"\n## Use\n\n```bash\n{Usage}\n```\n");
        return text.ToString();
    }

    /// <summary>Writes the card into <paramref name="folder"/> (atomically), titled with the folder's model id.</summary>
    public void Save(string folder) =>
        AtomicFile.Write(Path.Combine(folder, FileName), s => s.Write(Encoding.UTF8.GetBytes(Render(PretrainedModel.IdOf(folder)))));
}
