using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Tokenization;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>Tiny models and inputs with fixed seeds for tests.</summary>
static class TestModels
{
    public static LlamaConfig TinyConfig(int vocab = 64, bool tied = false) => new()
    {
        VocabSize = vocab, MaxPositionEmbeddings = 64, HiddenSize = 32, IntermediateSize = 64,
        NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2, TieWordEmbeddings = tied,
    };

    public static LlamaForCausalLM Tiny(int vocab = 64, bool tied = false, long seed = 1)
    {
        var model = new LlamaForCausalLM(TinyConfig(vocab, tied));
        model.InitializeWeights(seed);
        model.eval();
        return model;
    }

    /// <summary>Writes a model folder: the `tiny` preset with random weights and the test corpus's tokenizer.</summary>
    public static string TinyFolder(string folder, long seed = 1)
    {
        var config = ModelPresets.Get("tiny");
        config.VocabSize = TestCorpus.Tokenizer.VocabSize;
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(seed);
        ModelFolder.Save(folder, model, TestCorpus.Tokenizer);
        return folder;
    }

    /// <summary>The next-token logits after <paramref name="ids"/> (the last position's), as a plain array.</summary>
    public static float[] LastLogits(LlamaForCausalLM model, IReadOnlyList<int> ids)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return model.forward(tensor(ids.Select(i => (long)i).ToArray()).view(1, -1))[0, -1].data<float>().ToArray();
    }

    public static Tensor RandomIds(long batch, long seq, int vocab, long seed = 7)
    {
        var g = new Generator((ulong)seed);
        return randint(0, vocab, [batch, seq], dtype: int64, generator: g);
    }
}
