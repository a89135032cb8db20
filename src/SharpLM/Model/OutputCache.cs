using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Model;

/// <summary>
/// TorchSharp 0.107 keeps an uninitialised tensor the size of each output of an autograd operation for as long as the
/// graph lives, to stand in for a missing output gradient when gradients are materialised: one more copy of every
/// projection's output, +0.29 GB at the peak of a `small` step. SharpLM's operations (<see cref="KernelLinear"/>,
/// <see cref="FusedRmsNorm"/>, <see cref="FusedSwiGlu"/>, <see cref="FusedRope"/>, <see cref="CausalAttention"/>) turn materialising off in forward
/// (<see cref="Skip"/>; a missing gradient then arrives as an undefined tensor, which their backward handles), so those
/// tensors are never read, and free them once <c>apply</c> returns (<see cref="Free(Tensor)"/>). They sit in private
/// fields; if a TorchSharp version renames them, nothing is freed and nothing else changes (KernelLinearTests checks that
/// the fields are there).
/// </summary>
static class OutputCache
{
    [ThreadStatic] static autograd.AutogradContext? pending;

    /// <summary>In an operation's forward: gradients are not materialised, and this context's cache is freed by the
    /// <see cref="Free(Tensor)"/> that follows on this thread.</summary>
    public static void Skip(autograd.AutogradContext ctx)
    {
        ctx.set_materialize_grads(false);
        pending = ctx;
    }

    /// <summary>On what <c>apply</c> returned: frees the cache of the operation just applied; returns the output.</summary>
    public static Tensor Free(Tensor output)
    {
        Free(pending);
        pending = null;
        return output;
    }

    /// <summary>Frees <paramref name="context"/>'s cache; false where TorchSharp's fields are not found.</summary>
    internal static bool Free(autograd.AutogradContext? context)
    {
        const BindingFlags Private = BindingFlags.NonPublic | BindingFlags.Instance;
        var node = context is null ? null : typeof(autograd.AutogradContext).GetField("_node", Private)?.GetValue(context);
        if (node?.GetType().GetField("_outputCache", Private)?.GetValue(node) is not List<Tensor> cache) return false;
        foreach (var tensor in cache) tensor?.Dispose();
        cache.Clear();
        return true;
    }
}
