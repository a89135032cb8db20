using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// Embedding and head rows for tokens added to a model's tokenizer after it was trained (ids <see cref="FirstId"/> to
/// <see cref="FirstId"/> + <see cref="Count"/> - 1). Each new row starts at the mean of the rows before
/// <see cref="FirstId"/>, as Hugging Face's <c>resize_token_embeddings</c> does, so the new tokens start as an average
/// token rather than as noise; the matrices grow when the model has fewer rows than ids.
/// </summary>
/// <param name="BaseVocabSize">the model's vocab_size before the rows were added</param>
public sealed record AddedTokenRows(int FirstId, int Count, int BaseVocabSize)
{
    public int VocabSize => Math.Max(BaseVocabSize, FirstId + Count);

    /// <summary>Adds the rows to <paramref name="model"/> (its vocab_size must be <see cref="BaseVocabSize"/>).</summary>
    public void ApplyTo(LlamaForCausalLM model)
    {
        if (model.Config.VocabSize != BaseVocabSize)
            throw new SharpLMException($"cannot add token rows for ids {FirstId}..{FirstId + Count - 1}: the model's vocab_size is " +
                                       $"{model.Config.VocabSize}, not the {BaseVocabSize} they were made for");
        if (FirstId <= 0 || Count <= 0 || FirstId > BaseVocabSize)
            throw new SharpLMException($"added token rows start at id {FirstId} ({Count} of them) in a vocabulary of {BaseVocabSize}");
        using var noGrad = no_grad();
        Grow(model.model.embed_tokens.weight!);
        if (model.lm_head is not null) Grow(model.lm_head.weight);
        model.Config.VocabSize = VocabSize;
    }

    void Grow(Tensor weight)
    {
        // set_ swaps the parameter's storage in place, so modules and optimisers holding it see the new rows.
        using var grown = cat([weight.narrow(0, 0, Math.Min(weight.shape[0], VocabSize)),
                               zeros(Math.Max(0, VocabSize - weight.shape[0]), weight.shape[1], weight.dtype, device: weight.device)]);
        grown.narrow(0, FirstId, Count).copy_(weight.narrow(0, 0, FirstId).mean([0], keepdim: true).expand(Count, -1));
        weight.set_(grown);
    }
}
