using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Backpropagation that keeps only each decoder layer's input instead of all its activations, and recomputes a layer's
/// activations when its gradient is needed: activation memory shrinks from every layer's to one layer's, for about a
/// third more compute. Two passes: the layers run without a graph, keeping their inputs; then the loss is taken from
/// the last one, and each layer, last to first, is run again with a graph and backpropagated with the gradient of its
/// output. Each layer's random state (LoRA dropout) is restored for its second run, so the gradients are the ones the
/// plain backward pass gives.
/// </summary>
public static class GradientCheckpointing
{
    /// <summary>Adds the gradients of the batch's summed loss divided by <paramref name="divisor"/> to the model's
    /// parameters, as <c>(LanguageModelLoss.Sum(model, batch) / divisor).backward()</c> does, and returns the summed loss.</summary>
    /// <param name="lossOfHidden">the summed loss as a function of the final hidden states (<see cref="ITrainingObjective.Loss"/>);
    /// null for next-token cross-entropy</param>
    public static float Backward(LlamaForCausalLM model, TrainingBatch batch, double divisor, Func<Tensor, Tensor>? lossOfHidden = null)
    {
        lossOfHidden ??= hidden => LanguageModelLoss.OfHidden(model, hidden, batch);
        using var scope = NewDisposeScope();
        var options = batch.ForwardOptions;
        var (embeddings, cos, sin, mask) = model.model.LayerInputs(batch.InputIds, options);
        var layers = model.model.layers;
        var inputs = new Tensor[layers.Count + 1];
        var randomStates = new Tensor[layers.Count];
        inputs[0] = embeddings.detach();
        using (no_grad())
            for (int i = 0; i < layers.Count; i++)
            {
                randomStates[i] = get_rng_state();
                inputs[i + 1] = layers[i].forward(inputs[i], cos, sin, mask, null);
            }
        using var randomAfter = get_rng_state();

        var last = inputs[^1].detach().requires_grad_(true);
        var loss = lossOfHidden(model.model.norm.forward(last));
        (loss / divisor).backward();
        var gradient = last.grad!.detach();
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            inputs[i + 1].Dispose(); // its gradient is known: only earlier inputs are still needed
            using var layerScope = NewDisposeScope();
            var input = inputs[i].detach().requires_grad_(true);
            set_rng_state(randomStates[i]);
            (layers[i].forward(input, cos, sin, mask, null) * gradient).sum().backward();
            var next = input.grad!.detach().MoveToOuterDisposeScope();
            gradient.Dispose();
            gradient = next;
        }
        if (embeddings.requires_grad) (embeddings * gradient).sum().backward(); // frozen under LoRA
        set_rng_state(randomAfter); // where the plain backward pass leaves it
        return loss.item<float>();
    }
}
