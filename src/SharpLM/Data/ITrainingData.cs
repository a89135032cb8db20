namespace SharpLM.Data;

/// <summary>A set of training examples the trainer can shuffle and batch: pretraining rows, instruction examples...</summary>
public interface ITrainingData
{
    /// <summary>Number of examples in one epoch.</summary>
    int Count { get; }

    /// <summary>Builds a batch from the examples at <paramref name="indices"/> (padding and masks as the data needs).</summary>
    TrainingBatch Collate(IReadOnlyList<int> indices);
}
