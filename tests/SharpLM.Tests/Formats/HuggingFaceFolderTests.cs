using System.CommandLine;
using SharpLM.Adapters;
using SharpLM.Chat;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using SharpLM.Data;
using SharpLM.Formats;
using SharpLM.Generation;
using SharpLM.Hub;
using SharpLM.Model;
using SharpLM.Tests.Interop;
using SharpLM.Tests.Tokenization;
using SharpLM.Tokenization;
using SharpLM.Training;
using Xunit;
using static TorchSharp.torch;

namespace SharpLM.Tests.Formats;

/// <summary>
/// A folder laid out like a Hugging Face download of SmolLM2-135M-Instruct: the same config.json fields (tiny sizes,
/// tied embeddings, an explicit head_dim that differs from hidden / heads), a Digits + ByteLevel tokenizer.json with
/// ChatML tokens, bf16 weights in two shards with an index, and what real exports carry besides: an lm_head.weight
/// although tied, rotary inv_freq buffers, tokenizer_config.json with a Jinja chat_template.
/// </summary>
[Collection(LlamaCppCollection.Name)]
public sealed class HuggingFaceFolderTests : IDisposable
{
    readonly TempDirectory dir = new();
    readonly LlamaForCausalLM reference;
    readonly string folder;

    const string Config = """
        {
          "architectures": ["LlamaForCausalLM"],
          "attention_bias": false,
          "attention_dropout": 0.0,
          "bos_token_id": 1,
          "eos_token_id": 2,
          "head_dim": 32,
          "hidden_act": "silu",
          "hidden_size": 48,
          "initializer_range": 0.041666666666666664,
          "intermediate_size": 128,
          "is_llama_config": true,
          "max_position_embeddings": 256,
          "mlp_bias": false,
          "model_type": "llama",
          "num_attention_heads": 3,
          "num_hidden_layers": 2,
          "num_key_value_heads": 1,
          "pad_token_id": 2,
          "pretraining_tp": 1,
          "rms_norm_eps": 1e-05,
          "rope_interleaved": false,
          "rope_scaling": null,
          "rope_theta": 100000,
          "tie_word_embeddings": true,
          "torch_dtype": "bfloat16",
          "transformers_version": "4.42.3",
          "use_cache": true,
          "vocab_size": 400
        }
        """;

    public HuggingFaceFolderTests()
    {
        folder = dir.File("SmolLM2-tiny-Instruct");
        Directory.CreateDirectory(folder);
        var tokenizer = new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = 400,
            SpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            PreTokenizer = new PreTokenizer(PreTokenizer.Gpt2Pattern, individualDigits: true),
        }).Train(TestCorpus.Documents());
        tokenizer.Save(Path.Combine(folder, "tokenizer.json"));
        File.WriteAllText(Path.Combine(folder, "config.json"), Config);
        File.WriteAllText(Path.Combine(folder, "generation_config.json"),
            """{"_from_model_config": true, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2, "transformers_version": "4.42.3"}""");
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            """{"chat_template": "{% for message in messages %}""" +
            """{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}", "eos_token": "<|im_end|>"}""");

        // The weights the folder should load as: random, then rounded to bf16 as the shards store them.
        reference = new LlamaForCausalLM(LlamaConfig.FromJson(Config));
        reference.InitializeWeights(21);
        using (var noGrad = no_grad())
            foreach (var (_, p) in reference.named_parameters()) p.copy_(p.to(ScalarType.BFloat16).to(ScalarType.Float32));
        reference.eval();
        WriteShards();
    }

    /// <summary>Two bf16 shards and an index, written as a Hugging Face export would have them.</summary>
    void WriteShards()
    {
        var weights = reference.state_dict();
        var first = weights.Where(kv => kv.Key.StartsWith("model.embed_tokens", StringComparison.Ordinal)
                                        || kv.Key.StartsWith("model.layers.0.", StringComparison.Ordinal))
            .Append(KeyValuePair.Create("model.layers.0.self_attn.rotary_emb.inv_freq", reference.Config.Rope().InverseFrequencies(32)))
            .ToList();
        var second = weights.Where(kv => !first.Any(f => f.Key == kv.Key))
            .Append(KeyValuePair.Create("lm_head.weight", (Tensor)reference.model.embed_tokens.weight!)) // tied, stored anyway
            .ToList();
        SafetensorsWriter.Write(Path.Combine(folder, "model-00001-of-00002.safetensors"), first, SafetensorsDType.BF16);
        SafetensorsWriter.Write(Path.Combine(folder, "model-00002-of-00002.safetensors"), second, SafetensorsDType.BF16);
        var map = first.Select(kv => $"\"{kv.Key}\": \"model-00001-of-00002.safetensors\"")
            .Concat(second.Select(kv => $"\"{kv.Key}\": \"model-00002-of-00002.safetensors\""));
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"),
            $$$"""{"metadata": {"total_size": 0}, "weight_map": {{{{string.Join(", ", map)}}}}}""");
    }

    public void Dispose()
    {
        reference.Dispose();
        dir.Dispose();
    }

    static int[] Greedy(LlamaForCausalLM model, int[] prompt, int count) =>
        new TokenGenerator(model)
            .Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = count, StopAtEos = false }, new HashSet<int>()).ToArray();

    static float[] Logits(LlamaForCausalLM model, int[] ids)
    {
        using var noGrad = no_grad();
        using var input = tensor(ids.Select(i => (long)i).ToArray()).view(1, -1);
        using var logits = model.forward(input);
        return logits.flatten().data<float>().ToArray();
    }

    int[] ChatPrompt(ITokenizer tokenizer) =>
        ChatTemplates.ChatMl.RenderPrompt(tokenizer, [new ChatMessage(ChatMessage.UserRole, "What is the next token? 42")]);

    [Fact]
    public void ExportsToGgufThatLlamaCppTokenizesAndRunsLikeSharpLm()
    {
        // bf16 shards, tied embeddings, head_dim != hidden/heads and SmolLM's digit splitting, through llama.cpp.
        GgufExporter.Export(folder, dir.File("m.gguf"), GgufTensorType.F32);
        using var loaded = PretrainedModel.Load(folder);
        using var llama = new LlamaCppModel(dir.File("m.gguf"));
        string text = "What is the next token? 42, or 1234567?";
        Assert.Equal(loaded.Tokenizer.Encode(text), llama.Tokenize(text));

        var prompt = ChatPrompt(loaded.Tokenizer);
        var expected = new TokenGenerator(loaded.Model)
            .Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = 16, StopAtEos = false }, new HashSet<int>())
            .ToArray();
        Assert.Equal(expected, llama.Greedy(prompt, 16));
    }

    [Fact]
    public void LoadsGeneratesFineTunesWithLoraAndMerges()
    {
        using var loaded = PretrainedModel.Load(folder);
        var config = loaded.Model.Config;
        Assert.Equal((32, 48, 3, 1, true),
            (config.HeadDim, config.HiddenSize, config.NumAttentionHeads, config.NumKeyValueHeads, config.TieWordEmbeddings));
        Assert.Null(loaded.Model.lm_head);
        Assert.Equal(new long[] { 96, 48 }, loaded.Model.model.layers[0].self_attn.q_proj.weight.shape);
        var loadedWeights = loaded.Model.state_dict();
        foreach (var (name, expected) in reference.state_dict()) Assert.True(expected.Equals(loadedWeights[name]), name);
        Assert.Contains(2, loaded.StopTokens()); // <|im_end|>, from config.json's eos_token_id
        Assert.Contains("\"Digits\"", File.ReadAllText(Path.Combine(folder, "tokenizer.json")));
        Assert.Equal(["4", "2"], loaded.Tokenizer.Encode("42").Select(id => loaded.Tokenizer.Decode([id])));

        var prompt = ChatPrompt(loaded.Tokenizer);
        var generated = Greedy(loaded.Model, prompt, 6);
        Assert.Equal(6, generated.Length);
        Assert.Equal(Greedy(reference, prompt, 6), generated);

        // Two LoRA steps on ChatML conversations, as `finetune --method lora` runs them.
        var lora = new LoraOptions { Rank = 4, Alpha = 8, Dropout = 0 };
        Lora.Apply(loaded.Model, lora, seed: 1);
        var examples = Enumerable.Range(0, 4).Select(i => TemplatedExample.FromConversation(new Conversation(
        [
            new ChatMessage(ChatMessage.UserRole, $"Count to {i + 3}."),
            new ChatMessage(ChatMessage.AssistantRole, string.Join(" ", Enumerable.Range(1, i + 3))),
        ]), ChatTemplates.ChatMl, loaded.Tokenizer));
        var data = InstructionDataset.Build(examples, new InstructionDatasetOptions { MaxLength = 64, PadId = 2 });
        using (var trainer = new Trainer(loaded.Model, data, null,
                   new TrainingOptions { BatchSize = 2, MaxSteps = 2, WarmupSteps = 1, LearningRate = 1e-2 }))
        {
            trainer.Run();
            Assert.Equal(2, trainer.State.Step);
            Assert.True(trainer.State.LastLoss is { } loss && double.IsFinite(loss));
        }
        loaded.Model.eval();
        var adapted = Logits(loaded.Model, prompt);
        Assert.NotEqual(Logits(reference, prompt), adapted);
        AdapterFolder.Save(dir.File("adapter"), loaded.Model, lora, folder);

        // `sharplm merge` into bf16 shards: the merged folder is a plain tied model that loads on its own.
        int exit = CommandRunner.Invoke(new RootCommand { MergeCommand.Create() },
            ["merge", "--model", folder, "--adapter", dir.File("adapter"), "--output", dir.File("merged"), "--save-dtype", "BF16",
             "--max-shard-size", "20KB"]);
        Assert.Equal(0, exit);
        var mergedFiles = Directory.GetFiles(dir.File("merged")).Select(Path.GetFileName).ToList();
        Assert.Contains(ModelFolder.IndexFile, mergedFiles);
        Assert.DoesNotContain(ModelFolder.WeightsFile, mergedFiles);
        var shards = mergedFiles.Where(f => f!.StartsWith("model-", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.True(shards.Count > 1);
        Assert.Equal(Enumerable.Range(1, shards.Count).Select(i => ShardedSafetensorsWriter.ShardName(ModelFolder.WeightsFile, i, shards.Count)),
            shards);
        using var merged = PretrainedModel.Load(dir.File("merged"));
        Assert.Null(merged.Adapter);
        Assert.Equal(("bfloat16", 32), (merged.Model.Config.TorchDtype, merged.Model.Config.HeadDim));
        Assert.True(merged.Model.Config.Extra!.ContainsKey("rope_interleaved")); // fields SharpLM does not use survive
        var mergedLogits = Logits(merged.Model, prompt);
        double scale = adapted.Max(Math.Abs), difference = adapted.Zip(mergedLogits, (a, b) => (double)Math.Abs(a - b)).Max();
        Assert.True(difference < 0.02 * scale, $"merged bf16 logits differ by {difference} (max logit {scale})");
    }
}
