using TorchSharp;

namespace SharpLM.Model;

/// <summary>
/// Scalars held for good by the steps every forward pass runs many times. TorchSharp 0.107 turns a number argument (the
/// <c>1</c> of <c>a + b</c>, an epsilon) into a temporary <c>Scalar</c> whose only owner is its finaliser, and nothing
/// keeps it alive during the native call: a garbage collection at that moment frees it under libtorch (seen once in the
/// test suite: libtorch's add failing "Expected false to be true" in <c>Scalar::toFloat</c>). Steps elsewhere still
/// pass temporaries; these are the most frequent ones.
/// </summary>
static class HeldScalars
{
    public static readonly Scalar One = 1;
}
