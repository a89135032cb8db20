using LLama;
using LLama.Common;
using LLama.Native;

namespace SharpLM.Tests.Interop;

/// <summary>A GGUF file loaded into llama.cpp (through LLamaSharp) computing in fp32, fed token ids directly.</summary>
sealed class LlamaCppModel : IDisposable
{
    static readonly object initLock = new();
    static bool initialised;

    readonly LLamaWeights weights;
    readonly LLamaContext context;

    public LlamaCppModel(string path, int contextSize = 256)
    {
        lock (initLock)
        {
            if (!initialised)
            {
                NativeLogConfig.llama_log_set((level, message) => { }); // llama.cpp logs every load at length
                initialised = true;
            }
        }
        var parameters = new ModelParams(path)
        {
            ContextSize = (uint)contextSize, BatchSize = (uint)contextSize, UBatchSize = (uint)contextSize,
            GpuLayerCount = 0, Threads = 2, BatchThreads = 2,
            // llama.cpp's default f16 KV cache, and its CPU flash attention, round to f16 (logits then differ by
            // ~1e-3); with both off it computes in fp32 like SharpLM (~1e-6).
            TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        weights = LLamaWeights.LoadFromFile(parameters);
        context = weights.CreateContext(parameters);
    }

    public int VocabSize => weights.Vocab.Count;

    /// <summary>llama.cpp's own chat formatting (llama_chat_apply_template with the file's tokenizer.chat_template).</summary>
    public string ApplyChatTemplate(params (string Role, string Content)[] messages)
    {
        var template = new LLamaTemplate(weights) { AddAssistant = true };
        foreach (var (role, content) in messages) template.Add(role, content);
        return System.Text.Encoding.UTF8.GetString(template.Apply());
    }

    public int[] Tokenize(string text, bool special = false) => context.Tokenize(text, addBos: false, special: special).Select(t => (int)t).ToArray();

    /// <summary>Whether llama.cpp ends generation at this token (its end token, or one it treats alike, e.g. &lt;|im_end|&gt;).</summary>
    public bool EndsGeneration(int id) => ((LLamaToken)id).IsEndOfGeneration(weights.NativeHandle);

    /// <summary>Clears the cache, evaluates <paramref name="ids"/> from position 0 and returns the last position's logits.</summary>
    public float[] Logits(IReadOnlyList<int> ids)
    {
        context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < ids.Count; i++) batch.Add(ids[i], i, LLamaSeqId.Zero, i == ids.Count - 1);
        Decode(batch);
        return context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
    }

    /// <summary>Greedy (argmax) continuation of <paramref name="prompt"/> by <paramref name="count"/> tokens.</summary>
    public int[] Greedy(IReadOnlyList<int> prompt, int count)
    {
        var logits = Logits(prompt);
        var output = new List<int>();
        var batch = new LLamaBatch();
        for (int position = prompt.Count; output.Count < count; position++)
        {
            int next = ArgMax(logits);
            output.Add(next);
            if (output.Count == count) break;
            batch.Clear();
            batch.Add(next, position, LLamaSeqId.Zero, true);
            Decode(batch);
            logits = context.NativeHandle.GetLogitsIth(0).ToArray();
        }
        return output.ToArray();
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    void Decode(LLamaBatch batch)
    {
        var result = context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
    }

    public void Dispose()
    {
        context.Dispose();
        weights.Dispose();
    }
}
