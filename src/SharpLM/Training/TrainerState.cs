using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpLM.Training;

/// <summary>Where a run is: saved as <c>trainer_state.json</c> in every checkpoint so training resumes exactly.</summary>
public sealed class TrainerState
{
    /// <summary>Optimiser updates done.</summary>
    [JsonRequired, JsonPropertyName("global_step")] public long Step { get; set; }

    /// <summary>Current epoch, 0-based.</summary>
    [JsonRequired, JsonPropertyName("epoch")] public int Epoch { get; set; }

    /// <summary>Updates done within the current epoch (the data position).</summary>
    [JsonRequired, JsonPropertyName("step_in_epoch")] public int StepInEpoch { get; set; }

    /// <summary>Length of the run in updates (the schedule is shaped by it).</summary>
    [JsonRequired, JsonPropertyName("total_steps")] public long TotalSteps { get; set; }

    /// <summary>Updates per epoch of the data the run was trained on (0 in checkpoints written before it was
    /// recorded); with it, the position (epoch, step in epoch) can be checked against the step.</summary>
    [JsonPropertyName("steps_per_epoch")] public int StepsPerEpoch { get; set; }

    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; set; }

    [JsonPropertyName("last_loss")] public double? LastLoss { get; set; }

    [JsonPropertyName("last_valid_loss")] public double? LastValidLoss { get; set; }

    /// <summary>The lowest validation loss so far and the step it was reached at.</summary>
    [JsonPropertyName("best_valid_loss")] public double? BestValidLoss { get; set; }

    [JsonPropertyName("best_valid_step")] public long BestValidStep { get; set; }

    /// <summary>Evaluations since the validation loss last improved (early stopping counts them).</summary>
    [JsonPropertyName("evaluations_without_improvement")] public int EvaluationsWithoutImprovement { get; set; }

    [JsonPropertyName("options")] public TrainingOptions Options { get; set; } = new();

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads and checks a <c>trainer_state.json</c>; errors name the file and the field.</summary>
    public static TrainerState Read(string path)
    {
        var state = IO.JsonFile.Read<TrainerState>(path, "trainer state", Json);
        state.Validate(path);
        return state;
    }

    public static TrainerState FromJson(string json, string source) =>
        IO.JsonFile.Deserialize<TrainerState>(Encoding.UTF8.GetBytes(json), source, Json);

    /// <summary>Checks that the numbers describe a possible position of a run, before anything trusts them.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string field, string problem)
        {
            if (!ok) throw new SharpLMException($"{source}: {field} {problem}");
        }
        Require(Options is not null, "options", "is missing");
        Require(TotalSteps >= 1, "total_steps", $"is {TotalSteps}; it must be at least 1");
        Require(Step >= 0 && Step <= TotalSteps, "global_step", $"is {Step}; it must be between 0 and total_steps ({TotalSteps})");
        Require(Epoch >= 0, "epoch", $"is {Epoch}; it must be 0 or more");
        Require(StepInEpoch >= 0 && StepInEpoch <= Step, "step_in_epoch", $"is {StepInEpoch}; it must be between 0 and global_step ({Step})");
        Require(StepsPerEpoch >= 0, "steps_per_epoch", $"is {StepsPerEpoch}; it must be 0 or more");
        Require(TokensSeen >= 0, "tokens_seen", $"is {TokensSeen}; it must be 0 or more");
        if (StepsPerEpoch > 0)
            Require(StepInEpoch <= StepsPerEpoch && (long)Epoch * StepsPerEpoch + StepInEpoch == Step, "epoch/step_in_epoch",
                $"({Epoch}, {StepInEpoch}) do not match global_step {Step} at {StepsPerEpoch} steps per epoch");
    }
}
