using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpLM.Training;

/// <summary>Where a run is: saved as <c>trainer_state.json</c> in every checkpoint so training resumes exactly.</summary>
public sealed class TrainerState
{
    /// <summary>Optimiser updates done.</summary>
    [JsonPropertyName("global_step")] public long Step { get; set; }

    /// <summary>Current epoch, 0-based.</summary>
    [JsonPropertyName("epoch")] public int Epoch { get; set; }

    /// <summary>Updates done within the current epoch (the data position).</summary>
    [JsonPropertyName("step_in_epoch")] public int StepInEpoch { get; set; }

    /// <summary>Length of the run in updates (the schedule is shaped by it).</summary>
    [JsonPropertyName("total_steps")] public long TotalSteps { get; set; }

    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; set; }

    [JsonPropertyName("last_loss")] public double? LastLoss { get; set; }

    [JsonPropertyName("last_valid_loss")] public double? LastValidLoss { get; set; }

    [JsonPropertyName("options")] public TrainingOptions Options { get; set; } = new();

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainerState FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(json, Json) ?? throw new SharpLMException($"{source}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{source}: invalid trainer state ({e.Message})", e);
        }
    }
}
