using System.Globalization;
using SharpLM.Formats;
using SharpLM.IO;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Periodic training checkpoints in a run folder: <c>checkpoint-{step}/</c> holds the model in Hugging Face layout
/// plus <c>trainer_state.json</c>, <c>optimizer.safetensors</c> and <c>rng_state.safetensors</c>. A checkpoint is
/// written to <c>checkpoint-{step}.partial</c> and renamed when complete, so a crash mid-save never damages the
/// previous one; only the newest <c>keep</c> are kept (keep 0: the newest one while the run goes on, none once it has
/// finished). A checkpoint is resumed only when it is complete and consistent: <see cref="FindResumePoint"/> skips,
/// with the reason, any newer one that is not. What "the model" is (full weights, or only a LoRA adapter) is up to the
/// <see cref="ModelContent"/> given.
/// </summary>
public sealed class CheckpointManager(string runFolder, int keep, CheckpointManager.ModelContent content)
{
    /// <summary>How the trained part of a model is written into and read back from a checkpoint folder.</summary>
    public sealed record ModelContent(Action<string, LlamaForCausalLM> Save, Action<string, LlamaForCausalLM> Load);

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
        SafetensorsWriter.Write(Path.Combine(partial, OptimizerFile), trainer.OptimizerState,
            SafetensorsDType.F32, new Dictionary<string, string> { ["step"] = trainer.Optimizer.Step.ToString(CultureInfo.InvariantCulture) });
        using (var rng = get_rng_state())
            SafetensorsWriter.Write(Path.Combine(partial, RngFile), [new("torch", rng)]);
        AtomicFile.Write(Path.Combine(partial, StateFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(trainer.State.ToJson())));
        FolderSwap.Replace(partial, final);
        Prune(trainer.State.Step, trainer.State.BestValidLoss is null ? null : trainer.State.BestValidStep);
        return final;
    }

    /// <summary>Deletes the oldest checkpoints of the current run beyond <c>keep</c>, except the one of the best
    /// validation loss. Only checkpoints up to the step just saved count: a newer folder is left over from before a
    /// resume (one that was skipped as damaged) and will be replaced when the run gets there, so the checkpoint just
    /// written is never the one deleted.</summary>
    void Prune(long savedStep, long? bestStep)
    {
        foreach (var (step, path) in Complete(runFolder).Where(c => c.Step <= savedStep).SkipLast(Math.Max(keep, 1)))
            if (step != bestStep) Directory.Delete(path, recursive: true);
    }

    /// <summary>Called once the run's final model is safely written: with keep 0 that model is all that stays, so
    /// every checkpoint folder goes.</summary>
    public void FinishRun()
    {
        if (keep > 0 || !Directory.Exists(runFolder)) return;
        foreach (var path in Directory.GetDirectories(runFolder, Prefix + "*"))
            Directory.Delete(path, recursive: true);
    }

    /// <summary>Checkpoint folders (<c>checkpoint-{step}</c>, complete or not) of a run folder, oldest first.</summary>
    static List<(long Step, string Path)> Folders(string runFolder)
    {
        if (!Directory.Exists(runFolder)) return [];
        return Directory.GetDirectories(runFolder, Prefix + "*")
            .Select(p => (Name: Path.GetFileName(p), Path: p))
            .Where(d => long.TryParse(d.Name.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(d => (long.Parse(d.Name.AsSpan(Prefix.Length), CultureInfo.InvariantCulture), d.Path))
            .OrderBy(d => d.Item1)
            .ToList();
    }

    /// <summary>Complete checkpoints (those with a trainer state) of a run folder, oldest first.</summary>
    public static List<(long Step, string Path)> Complete(string runFolder) =>
        Folders(runFolder).Where(d => File.Exists(Path.Combine(d.Path, StateFile))).ToList();

    /// <summary>The newest complete checkpoint of a run folder, or the folder itself when it is a checkpoint.</summary>
    public static string? Latest(string path)
    {
        if (File.Exists(Path.Combine(path, StateFile))) return path;
        var all = Complete(path);
        return all.Count == 0 ? null : all[^1].Path;
    }

    /// <summary>Where a run resumes: the newest checkpoint that passes <see cref="Inspect"/>, the newer ones skipped
    /// (with the reason), and the valid one before it, if any.</summary>
    public sealed record ResumePoint(string Checkpoint, TrainerState State, IReadOnlyList<(string Checkpoint, string Reason)> Skipped,
        string? Previous);

    /// <summary>The newest usable checkpoint of <paramref name="runFolder"/>; null when there is none, with
    /// <paramref name="skipped"/> saying why each folder was not usable.</summary>
    public static ResumePoint? FindResumePoint(string runFolder, out IReadOnlyList<(string Checkpoint, string Reason)> skipped)
    {
        var rejected = new List<(string, string)>();
        skipped = rejected;
        string? chosen = null;
        TrainerState? chosenState = null;
        foreach (var (_, path) in Enumerable.Reverse(Folders(runFolder)))
        {
            try
            {
                var state = Inspect(path);
                if (chosen is not null) return new ResumePoint(chosen, chosenState!, rejected, path);
                (chosen, chosenState) = (path, state);
            }
            catch (Exception e) when (e is SharpLMException or IOException)
            {
                if (chosen is null) rejected.Add((path, e.Message));
            }
        }
        return chosen is null ? null : new ResumePoint(chosen, chosenState!, rejected, null);
    }

    /// <summary>Checks what a checkpoint can show on its own, without a model: every file is there, the trainer state is
    /// valid, the optimizer file has both moments of the same shape for its parameters at the state's step, and the
    /// random generator state has the size and type of this build's. Returns the trainer state.</summary>
    public static TrainerState Inspect(string checkpoint)
    {
        foreach (var f in new[] { StateFile, OptimizerFile, RngFile })
            if (!File.Exists(Path.Combine(checkpoint, f)))
                throw new SharpLMException($"{checkpoint} is not a complete training checkpoint: {f} is missing");
        var state = TrainerState.Read(Path.Combine(checkpoint, StateFile));

        var optimizerPath = Path.Combine(checkpoint, OptimizerFile);
        using (var optimizer = SafetensorsFile.Open(optimizerPath))
        {
            if (!optimizer.Metadata.TryGetValue("step", out var stepText) ||
                !long.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out var step))
                throw new SharpLMException($"{optimizerPath}: the metadata has no valid \"step\"");
            if (step != state.Step)
                throw new SharpLMException($"{optimizerPath}: step {step} does not match {StateFile}'s global_step {state.Step}");
            if (step > 0 && optimizer.Entries.Count == 0)
                throw new SharpLMException($"{optimizerPath}: no optimizer moments after {step} steps");
            foreach (var entry in optimizer.Entries)
            {
                if (entry.DType != SafetensorsDType.F32)
                    throw new SharpLMException($"{optimizerPath}: tensor \"{entry.Name}\" is {entry.DType}, expected F32");
                if (!entry.Name.StartsWith("exp_avg.")) continue;
                var partner = "exp_avg_sq." + entry.Name["exp_avg.".Length..];
                if (!optimizer.Contains(partner))
                    throw new SharpLMException($"{optimizerPath}: \"{entry.Name}\" has no \"{partner}\"");
                if (!optimizer.GetEntry(partner).Shape.SequenceEqual(entry.Shape))
                    throw new SharpLMException($"{optimizerPath}: \"{entry.Name}\" and \"{partner}\" have different shapes");
            }
        }

        var rngPath = Path.Combine(checkpoint, RngFile);
        using (var rngFile = SafetensorsFile.Open(rngPath))
        using (var current = get_rng_state())
        {
            var rng = rngFile.Contains("torch") ? rngFile.GetEntry("torch")
                : throw new SharpLMException($"{rngPath}: no tensor named \"torch\"");
            if (rng.DType != SafetensorsDType.U8 || rng.Shape.Count != 1 || rng.Shape[0] != current.numel())
                throw new SharpLMException($"{rngPath}: \"torch\" is {rng.DType} [{string.Join(", ", rng.Shape)}], expected U8 [{current.numel()}]");
        }
        return state;
    }

    /// <summary>Loads optimiser moments, RNG, position and weights from a checkpoint into a freshly built trainer,
    /// after checking all of it (<see cref="Inspect"/>, then against the trainer's parameters and run length).</summary>
    /// <param name="acceptChangedOptions">see <see cref="Trainer.Restore"/></param>
    public void Restore(Trainer trainer, string checkpoint, bool acceptChangedOptions = false)
    {
        var state = Inspect(checkpoint);
        using var optimizerFile = SafetensorsFile.Open(Path.Combine(checkpoint, OptimizerFile));
        var tensors = optimizerFile.Entries.ToDictionary(e => e.Name, e => optimizerFile.Load(e.Name, ScalarType.Float32));
        using var rngFile = SafetensorsFile.Open(Path.Combine(checkpoint, RngFile));
        using var rng = rngFile.Load("torch");
        try
        {
            trainer.Restore(state, tensors, rng, checkpoint, acceptChangedOptions);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
        content.Load(checkpoint, trainer.Model);
    }
}
