using System.Globalization;
using SharpLM.Formats;
using SharpLM.Generation;
using SharpLM.Model;
using SharpLM.Tokenization;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Periodic training checkpoints in a run folder: <c>checkpoint-{step}/</c> holds the model in Hugging Face layout
/// plus <c>trainer_state.json</c>, <c>optimizer.safetensors</c> and <c>rng_state.safetensors</c>. A checkpoint is
/// written to <c>checkpoint-{step}.partial</c> and renamed when complete, so a crash mid-save never damages the
/// previous one; only the newest <c>keep</c> are kept. What "the model" is (full weights, or only a LoRA adapter)
/// is up to the <see cref="ModelContent"/> given.
/// </summary>
public sealed class CheckpointManager(string runFolder, int keep, CheckpointManager.ModelContent content)
{
    /// <summary>How the trained part of a model is written into and read back from a checkpoint folder.</summary>
    public sealed record ModelContent(Action<string, LlamaForCausalLM> Save, Action<string, LlamaForCausalLM> Load)
    {
        /// <summary>The whole model in Hugging Face layout, with its tokenizer and generation defaults.</summary>
        public static ModelContent FullModel(ITokenizer? tokenizer, GenerationConfig? generation = null, ModelSaveOptions? options = null) =>
            new((folder, model) => ModelFolder.Save(folder, model, tokenizer, generation, options), (folder, model) => ModelFolder.LoadWeightsInto(model, folder));
    }

    public const string StateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string RngFile = "rng_state.safetensors";
    const string Prefix = "checkpoint-";

    public string RunFolder => runFolder;

    public string Save(Trainer trainer)
    {
        Directory.CreateDirectory(runFolder);
        var final = Path.Combine(runFolder, Prefix + trainer.State.Step.ToString(CultureInfo.InvariantCulture));
        var partial = final + ".partial";
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);
        content.Save(partial, trainer.Model);
        SafetensorsWriter.Write(Path.Combine(partial, OptimizerFile), trainer.Optimizer.StateTensors(),
            SafetensorsDType.F32, new Dictionary<string, string> { ["step"] = trainer.Optimizer.Step.ToString(CultureInfo.InvariantCulture) });
        using (var rng = get_rng_state())
            SafetensorsWriter.Write(Path.Combine(partial, RngFile), [new("torch", rng)]);
        AtomicFile.Write(Path.Combine(partial, StateFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(trainer.State.ToJson())));
        ReplaceFolder(partial, final);
        Prune();
        return final;
    }

    /// <summary>Moves a finished folder into place, replacing an older folder of the same name only after the new
    /// one is complete.</summary>
    public static void ReplaceFolder(string complete, string destination)
    {
        if (Directory.Exists(destination))
        {
            var old = destination + ".old";
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
            Directory.Move(destination, old);
            Directory.Move(complete, destination);
            Directory.Delete(old, recursive: true);
        }
        else
        {
            Directory.Move(complete, destination);
        }
    }

    void Prune()
    {
        foreach (var (_, path) in Complete(runFolder).SkipLast(keep))
            Directory.Delete(path, recursive: true);
    }

    /// <summary>Complete checkpoints of a run folder, oldest first.</summary>
    public static List<(long Step, string Path)> Complete(string runFolder)
    {
        if (!Directory.Exists(runFolder)) return [];
        return Directory.GetDirectories(runFolder, Prefix + "*")
            .Select(p => (Name: Path.GetFileName(p), Path: p))
            .Where(d => long.TryParse(d.Name.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out _)
                        && File.Exists(Path.Combine(d.Path, StateFile)))
            .Select(d => (long.Parse(d.Name.AsSpan(Prefix.Length), CultureInfo.InvariantCulture), d.Path))
            .OrderBy(d => d.Item1)
            .ToList();
    }

    /// <summary>The newest complete checkpoint of a run folder, or the folder itself when it is a checkpoint.</summary>
    public static string? Latest(string path)
    {
        if (File.Exists(Path.Combine(path, StateFile))) return path;
        var all = Complete(path);
        return all.Count == 0 ? null : all[^1].Path;
    }

    /// <summary>Loads weights, optimiser moments, RNG and position from a checkpoint into a freshly built trainer.</summary>
    public void Restore(Trainer trainer, string checkpoint)
    {
        foreach (var f in new[] { StateFile, OptimizerFile })
            if (!File.Exists(Path.Combine(checkpoint, f)))
                throw new SharpLMException($"{checkpoint} is not a complete training checkpoint: {f} is missing");
        var statePath = Path.Combine(checkpoint, StateFile);
        var state = TrainerState.FromJson(File.ReadAllText(statePath), statePath);
        content.Load(checkpoint, trainer.Model);
        using var optimizerFile = SafetensorsFile.Open(Path.Combine(checkpoint, OptimizerFile));
        var tensors = optimizerFile.Entries.ToDictionary(e => e.Name, e => optimizerFile.Load(e.Name, ScalarType.Float32));
        Tensor? rng = null;
        var rngPath = Path.Combine(checkpoint, RngFile);
        if (File.Exists(rngPath))
        {
            using var rngFile = SafetensorsFile.Open(rngPath);
            rng = rngFile.Load("torch");
        }
        try
        {
            trainer.Restore(state, tensors, rng, checkpoint);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
            rng?.Dispose();
        }
    }
}
