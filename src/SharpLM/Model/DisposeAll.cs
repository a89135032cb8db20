using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>Frees a backward call's own tensor wrappers (the saved tensors and the output gradient, which TorchSharp hands
/// over as new wrappers) when the call ends: left to the caller's dispose scope, they would keep every layer's
/// activations alive until the end of the backward pass.</summary>
sealed class DisposeAll(IReadOnlyList<Tensor> tensors) : IDisposable
{
    public void Dispose()
    {
        foreach (var t in tensors) t.Dispose();
    }
}
