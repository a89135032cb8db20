using SharpLM.Model;
using static TorchSharp.torch;

namespace SharpLM.Adapters;

/// <summary>
/// The frozen base of a LoRA fine-tune kept in a smaller type: its projection weights (nearly all of the model) take
/// half the memory in bf16 and their matmuls run in it, while the embeddings, norms, adapters and the adapters'
/// optimiser state stay fp32 (QLoRA's idea, with bf16 where QLoRA uses 4 bits). The adapter learnt on it loads on the
/// fp32 base as on any other.
/// </summary>
public static class FrozenBase
{
    /// <summary>Stores every projection weight of <paramref name="model"/> in <paramref name="dtype"/>; call it before
    /// attaching the adapters, which stay fp32.</summary>
    public static void Store(LlamaForCausalLM model, ScalarType dtype)
    {
        if (Lora.Adapters(model).Any()) throw new SharpLMException("the base's type must be set before the LoRA adapters are attached");
        foreach (var (_, projection) in model.Projections()) TorchSharp.ModuleExtensionMethods.to(projection, dtype);
    }
}
