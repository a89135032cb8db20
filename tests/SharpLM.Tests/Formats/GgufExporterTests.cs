using System.CommandLine;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Adapters;
using SharpLM.Chat;
using SharpLM.Formats;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Tokenization;
using SharpLM.Tokenization;
using Xunit;
using static TorchSharp.torch;
using SharpLM.Tests.Cli;

namespace SharpLM.Tests.Formats;

[Collection(CliCollection.Name)]
public class GgufExporterTests
{
    static int Run(params string[] args) => CommandRunner.Invoke(new RootCommand { ExportCommand.Create() }, args);

    static LlamaForCausalLM TiedModel()
    {
        // hidden 48 is not a multiple of Q8_0's block of 32; intermediate 64 is.
        var model = new LlamaForCausalLM(new LlamaConfig
        {
            VocabSize = 400, MaxPositionEmbeddings = 64, HiddenSize = 48, IntermediateSize = 64,
            NumHiddenLayers = 1, NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2, TieWordEmbeddings = true,
        });
        model.InitializeWeights(5);
        return model;
    }

    [Fact]
    public void WritesLlamaCppNamesHyperParametersAndInterleavedQk()
    {
        using var dir = new TempDirectory();
        using var model = TiedModel();
        ModelFolder.Save(dir.File("m"), model, TestCorpus.Tokenizer);
        GgufExporter.Export(dir.File("m"), dir.File("m.gguf"), GgufTensorType.F32);
        var gguf = new GgufTestReader(dir.File("m.gguf"));

        Assert.Equal("llama", gguf.Metadata["general.architecture"]);
        Assert.Equal(64u, gguf.Metadata["llama.context_length"]);
        Assert.Equal(48u, gguf.Metadata["llama.embedding_length"]);
        Assert.Equal(1u, gguf.Metadata["llama.block_count"]);
        Assert.Equal(64u, gguf.Metadata["llama.feed_forward_length"]);
        Assert.Equal(12u, gguf.Metadata["llama.rope.dimension_count"]);
        Assert.Equal(10_000f, gguf.Metadata["llama.rope.freq_base"]);
        Assert.Equal((4u, 2u), ((uint)gguf.Metadata["llama.attention.head_count"], (uint)gguf.Metadata["llama.attention.head_count_kv"]));
        Assert.Equal(1e-5f, gguf.Metadata["llama.attention.layer_norm_rms_epsilon"]);
        Assert.Equal(400u, gguf.Metadata["llama.vocab_size"]);
        Assert.Equal("gpt2", gguf.Metadata["tokenizer.ggml.model"]);
        Assert.Equal("gpt-2", gguf.Metadata["tokenizer.ggml.pre"]);
        var tokens = (object[])gguf.Metadata["tokenizer.ggml.tokens"];
        var types = (object[])gguf.Metadata["tokenizer.ggml.token_type"];
        Assert.Equal(("[BOT]", 3), ((string)tokens[1], (int)types[1]));
        Assert.Equal(("Ġthe", 1),
            ((string)tokens[TestCorpus.Tokenizer.TokenToId("Ġthe")!.Value], (int)types[TestCorpus.Tokenizer.TokenToId("Ġthe")!.Value]));
        var (left, right) = TestCorpus.Tokenizer.Merges[0];
        Assert.Equal($"{left} {right}", ((object[])gguf.Metadata["tokenizer.ggml.merges"])[0]);
        Assert.Equal((1u, 2u, 0u), ((uint)gguf.Metadata["tokenizer.ggml.bos_token_id"], (uint)gguf.Metadata["tokenizer.ggml.eos_token_id"],
            (uint)gguf.Metadata["tokenizer.ggml.padding_token_id"]));
        Assert.Equal(true, gguf.Metadata["tokenizer.ggml.add_bos_token"]);
        Assert.False(gguf.Metadata.ContainsKey("tokenizer.chat_template")); // none saved with this model

        Assert.Equal(["token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
                      "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight",
                      "blk.0.ffn_down.weight", "output_norm.weight"], gguf.Tensors.Select(t => t.Name)); // tied: no output.weight
        Assert.Equal([48UL, 400UL], gguf.Tensor("token_embd.weight").Dims);
        Assert.Equal([48UL, 24UL], gguf.Tensor("blk.0.attn_k.weight").Dims);

        var q = model.model.layers[0].self_attn.q_proj.weight;
        using var interleaved = RopeLayout.ToInterleaved(q, 4).contiguous();
        Assert.Equal(interleaved.data<float>().ToArray(), gguf.Floats("blk.0.attn_q.weight"));
        Assert.Equal(model.model.layers[0].self_attn.v_proj.weight.data<float>().ToArray(), gguf.Floats("blk.0.attn_v.weight"));
    }

    [Fact]
    public void AnAdapterFolderIsExportedMergedIntoItsBase()
    {
        using var dir = new TempDirectory();
        using var model = TiedModel();
        ModelFolder.Save(dir.File("base"), model, TestCorpus.Tokenizer);
        var options = new LoraOptions { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "down_proj"] };
        Lora.Apply(model, options, seed: 3);
        using (no_grad())
            foreach (var (_, _, adapter) in Lora.Adapters(model)) adapter.B.weight.normal_(0, 0.1);
        AdapterFolder.Save(dir.File("adapter"), model, options, dir.File("base"));
        TestCorpus.Tokenizer.Save(dir.File("adapter/tokenizer.json"));
        ChatTemplates.ChatMl.Save(dir.File("adapter")); // fine-tuning saves its template with the adapter
        Lora.Merge(model);
        ModelFolder.Save(dir.File("merged"), model, TestCorpus.Tokenizer);

        GgufExporter.Export(dir.File("adapter"), dir.File("adapter.gguf"), GgufTensorType.F32);
        GgufExporter.Export(dir.File("merged"), dir.File("merged.gguf"), GgufTensorType.F32);
        GgufExporter.Export(dir.File("base"), dir.File("base.gguf"), GgufTensorType.F32);
        var (fromAdapter, merged, unadapted) = (new GgufTestReader(dir.File("adapter.gguf")), new GgufTestReader(dir.File("merged.gguf")),
            new GgufTestReader(dir.File("base.gguf")));
        foreach (var name in new[] { "blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.0.attn_k.weight" })
            Assert.Equal(merged.Floats(name), fromAdapter.Floats(name));
        Assert.NotEqual(unadapted.Floats("blk.0.attn_q.weight"), fromAdapter.Floats("blk.0.attn_q.weight"));
        Assert.Equal(ChatTemplates.ChatMl.JinjaTemplate, fromAdapter.Metadata["tokenizer.chat_template"]);
        Assert.False(unadapted.Metadata.ContainsKey("tokenizer.chat_template"));
    }

    [Fact]
    public void Q8_0KeepsNormsF32AndFallsBackToF16ForOddRows()
    {
        using var dir = new TempDirectory();
        using var model = TiedModel();
        ModelFolder.Save(dir.File("m"), model, TestCorpus.Tokenizer);
        Assert.Equal(0, Run("export", "--model", dir.File("m"), "--format", "gguf", "--dtype", "q8_0", "--output", dir.File("m.gguf")));
        var gguf = new GgufTestReader(dir.File("m.gguf"));
        Assert.Equal(7u, gguf.Metadata["general.file_type"]);
        Assert.Equal(2u, gguf.Metadata["general.quantization_version"]);
        Assert.Equal(GgufTensorType.F32, gguf.Tensor("blk.0.attn_norm.weight").Type);
        Assert.Equal(GgufTensorType.F32, gguf.Tensor("output_norm.weight").Type);
        Assert.Equal(GgufTensorType.F16, gguf.Tensor("token_embd.weight").Type); // rows of 48
        Assert.Equal(GgufTensorType.Q8_0, gguf.Tensor("blk.0.ffn_down.weight").Type); // rows of 64
    }

    [Fact]
    public void CliRefusesToOverwriteAndExplainsMissingInputs()
    {
        using var dir = new TempDirectory();
        using var model = TiedModel();
        ModelFolder.Save(dir.File("m"), model, TestCorpus.Tokenizer);
        string output = dir.File("m.gguf");
        Assert.Equal(0, Run("export", "--model", dir.File("m"), "--format", "gguf", "--output", output));
        var first = File.GetLastWriteTimeUtc(output);
        Assert.Equal(1, Run("export", "--model", dir.File("m"), "--format", "gguf", "--output", output));
        Assert.Equal(first, File.GetLastWriteTimeUtc(output));
        Assert.Equal(0, Run("export", "--model", dir.File("m"), "--format", "gguf", "--dtype", "f32", "--output", output, "--force"));
        Assert.Equal(0u, new GgufTestReader(output).Metadata["general.file_type"]);
        Assert.NotEqual(0, Run("export", "--model", dir.File("m"), "--format", "gguf", "--dtype", "q4_0", "--output", dir.File("x.gguf")));

        ModelFolder.Save(dir.File("bare"), model, null);
        var e = Assert.Throws<SharpLMException>(() => GgufExporter.Export(dir.File("bare"), dir.File("bare.gguf"), GgufTensorType.F16));
        Assert.Contains("no tokenizer", e.Message);
        e = Assert.Throws<SharpLMException>(() => GgufExporter.Export(dir.File("nothing"), dir.File("n.gguf"), GgufTensorType.F16));
        Assert.Contains("model folder not found", e.Message);
        Assert.False(File.Exists(dir.File("bare.gguf")));

        // A tokenizer that splits differently from GPT-2 would be tokenized differently by llama.cpp: refused.
        var digits = new ByteLevelBpeTokenizer(TestCorpus.Tokenizer.Vocab, TestCorpus.Tokenizer.Merges,
            TestCorpus.Tokenizer.AddedTokens, new PreTokenizer(@"\p{N}{1,3}|[^\p{N}]+"));
        e = Assert.Throws<SharpLMException>(() => GgufExporter.Export(model, digits, dir.File("d.gguf"), GgufTensorType.F16));
        Assert.Contains("GPT-2's split pattern", e.Message);
        Assert.Contains(@"/\p{N}{1,3}|[^\p{N}]+/", e.Message);
    }

    [Fact]
    public void SentencePieceLayoutsLlamaCppCannotReproduceAreRefused()
    {
        var mistral = MistralFixture.Tokenizer;
        void Refused(SentencePieceBpeOptions options, string expected)
        {
            var tokenizer = new SentencePieceBpeTokenizer(mistral.Vocab, mistral.Merges, mistral.AddedTokens, options);
            var e = Assert.Throws<SharpLMException>(() => GgufTokenizerMetadata.Add(new GgufWriter(), tokenizer, tokenizer.VocabSize));
            Assert.Contains(expected, e.Message);
        }
        Refused(mistral.Options with { ByteFallback = false }, "byte_fallback");
        Refused(mistral.Options with { Normalizer = [], PreTokenizer = new MetaspacePreTokenizer(Split: true) }, "Metaspace without splitting");
        Refused(mistral.Options with { Normalizer = [new ReplaceNormalizer(" ", "_")] }, "this one has normalizer [");
    }
}
