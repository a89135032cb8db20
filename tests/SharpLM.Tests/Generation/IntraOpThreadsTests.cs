using SharpLM.Generation;
using SharpLM.Model;
using Xunit;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests.Generation;

/// <summary>Which forward passes of generation lower libtorch's thread count (to a decoding step's).</summary>
public sealed class IntraOpThreadsTests
{
    [Fact]
    public void ADecodingStepAndAShortPromptOnSharpLMsKernelsTakeTheFewThreadsALongPromptLibtorchs()
    {
        using var model = TestModels.Tiny(); // hidden size 32
        Assert.Equal(1, IntraOpThreads.ForPass(model, 1, 500, 1));
        int shortPrompt = PromptProduct.Applies(32) ? 1 : 0; // without AVX-512 libtorch multiplies the prompt
        Assert.Equal(shortPrompt, IntraOpThreads.ForPass(model, 100, 100, 1));
        Assert.Equal(0, IntraOpThreads.ForPass(model, 800, 800, 1)); // 800 x 800 x 32 multiply-adds > 2^24
        Assert.Equal(0, IntraOpThreads.ForPass(model, 100, 100, 0)); // the host keeps libtorch's count
        model.SetComputeType(ScalarType.BFloat16); // libtorch's bf16 matmuls take the products
        Assert.Equal(0, IntraOpThreads.ForPass(model, 100, 100, 1));
        model.SetComputeType(null);
        model.to(ScalarType.BFloat16);
        Assert.Equal(0, IntraOpThreads.ForPass(model, 100, 100, 1));
    }

    [Fact]
    public void AnEightBitModelsShortPromptTakesTheFewThreadsAsAnFp32OnesDoes()
    {
        using var model = TestModels.Tiny();
        model.QuantizeForInference(); // its prompts multiply on Q8PromptProduct, its steps on the 8-bit kernel
        int kernels = PromptProduct.Applies(32) ? 1 : 0;
        Assert.Equal(kernels, IntraOpThreads.ForPass(model, 100, 100, 1));
        Assert.Equal(1, IntraOpThreads.ForPass(model, 1, 100, 1));
    }
}
