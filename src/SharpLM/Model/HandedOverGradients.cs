using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>Gradients that SharpLM's autograd operations (<see cref="KernelLinear"/>, <see cref="HeadCrossEntropy"/>) return to
/// libtorch from a backward call. libtorch holds its own reference once that call returns, so the wrappers are freed at the
/// next one: left in the caller's dispose scope, they would keep every layer's gradient alive until the whole backward pass
/// ends. Backward runs on the thread that started it, hence one list per thread.</summary>
static class HandedOverGradients
{
    [ThreadStatic] static List<Tensor>? held;

    /// <summary>Frees the wrappers handed over by earlier backward calls on this thread.</summary>
    public static void ReleaseEarlier()
    {
        foreach (var t in held ?? []) t.Dispose();
        held = [];
    }

    /// <summary>Takes <paramref name="gradient"/> out of the dispose scopes, to be freed by the next
    /// <see cref="ReleaseEarlier"/>.</summary>
    public static Tensor HandOver(Tensor gradient)
    {
        (held ??= []).Add(gradient.DetachFromDisposeScope());
        return gradient;
    }
}
