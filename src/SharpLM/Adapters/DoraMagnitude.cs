using static TorchSharp.torch;

namespace SharpLM.Adapters;

/// <summary>DoRA's trained magnitude per output row of a projection, registered under it as
/// <c>lora_magnitude_vector</c> (PEFT's name; its files store the vector itself, without ".weight").</summary>
public sealed class DoraMagnitude : nn.Module
{
    public const string Name = "lora_magnitude_vector";

    public readonly TorchSharp.Modules.Parameter weight;

    public DoraMagnitude(Tensor initial, ScalarType dtype) : base("DoraMagnitude")
    {
        weight = new TorchSharp.Modules.Parameter(initial.to(dtype).detach().clone());
        RegisterComponents();
    }
}
