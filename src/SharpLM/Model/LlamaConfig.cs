using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpLM.Model;

/// <summary>
/// Architecture of a Llama-style decoder, read and written as a Hugging Face <c>config.json</c>
/// (same field names as transformers' LlamaConfig). Fields SharpLM does not use are kept and
/// written back unchanged. A config.json that leaves a field out means transformers' default for it, which for
/// num_key_value_heads and rms_norm_eps differs from this class's defaults (the tutorial's model).
/// </summary>
public sealed class LlamaConfig
{
    [JsonPropertyName("architectures")] public string[] Architectures { get; set; } = ["LlamaForCausalLM"];
    [JsonPropertyName("model_type")] public string ModelType { get; set; } = "llama";
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; } = 50_000;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 2048;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; set; } = 768;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; set; } = 3072;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; set; } = 12;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; set; } = 12;
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeadsRaw { get; set; } = 3;
    [JsonPropertyName("head_dim")] public int? HeadDimRaw { get; set; }
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "silu";
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; set; } = 1e-5;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; set; } = 10_000;
    [JsonPropertyName("rope_scaling")] public JsonElement? RopeScaling { get; set; }
    /// <summary>transformers 5's name for rope_scaling, with rope_theta inside; see <see cref="RopeFrequencies"/>.</summary>
    [JsonPropertyName("rope_parameters")] public JsonElement? RopeParameters { get; set; }
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; set; }
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; set; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; set; }
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; set; } = 0.02;
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; set; }
    [JsonPropertyName("eos_token_id"), JsonConverter(typeof(IntOrIntArrayConverter))] public int[]? EosTokenId { get; set; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; }
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; set; } = "float32";

    /// <summary>Fields of config.json that SharpLM does not interpret; written back as read.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    [JsonIgnore] public int NumKeyValueHeads => NumKeyValueHeadsRaw ?? NumAttentionHeads;
    [JsonIgnore] public int HeadDim => HeadDimRaw ?? HiddenSize / NumAttentionHeads;

    /// <summary>Whether q/k/v have biases: always in Qwen2, with attention_bias in Llama (which biases o_proj too).</summary>
    [JsonIgnore] public bool QkvBias => AttentionBias || ModelType == "qwen2";

    /// <summary>Whether each query and key head is RMS-normalised before the rotation (Qwen3).</summary>
    [JsonIgnore] public bool QkNorm => ModelType == "qwen3";

    /// <summary>The rotary frequencies (rope_theta and scaling rule); throws on an unsupported rule.</summary>
    public RopeFrequencies Rope(string source = "config") => RopeFrequencies.FromConfig(this, source);

    /// <summary>Fields without which the model's shapes are unknown; transformers would fall back to Llama-7B's.</summary>
    public static IReadOnlyList<string> RequiredFields { get; } =
        ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"];

    /// <summary>Throws a <see cref="SharpLMException"/> naming the first inconsistent field.</summary>
    public void Validate(string source = "config")
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new SharpLMException($"{source}: {what}");
        }
        SupportedArchitectures.Check(this, source);
        Require(VocabSize > 0, $"vocab_size must be positive, got {VocabSize}");
        Require(HiddenSize > 0, $"hidden_size must be positive, got {HiddenSize}");
        Require(IntermediateSize > 0, $"intermediate_size must be positive, got {IntermediateSize}");
        Require(NumHiddenLayers > 0, $"num_hidden_layers must be positive, got {NumHiddenLayers}");
        Require(NumAttentionHeads > 0, $"num_attention_heads must be positive, got {NumAttentionHeads}");
        Require(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0,
            $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads})");
        Require(HeadDimRaw is not null || HiddenSize % NumAttentionHeads == 0,
            $"hidden_size ({HiddenSize}) must be divisible by num_attention_heads ({NumAttentionHeads})");
        Require(HeadDim % 2 == 0, $"head_dim must be even for rotary embeddings, got {HeadDim}");
        Require(MaxPositionEmbeddings > 0, $"max_position_embeddings must be positive, got {MaxPositionEmbeddings}");
        Require(HiddenAct == "silu", $"hidden_act \"{HiddenAct}\" is not supported (expected \"silu\")");
        // Real values are 1e-6 to 1e-5; an epsilon near the activations' scale would flatten every norm.
        Require(RmsNormEps is > 0 and <= 1, $"rms_norm_eps must be in (0, 1], got {RmsNormEps}");
        Rope(source);
        Require(BosTokenId is null || (BosTokenId >= 0 && BosTokenId < VocabSize),
            $"bos_token_id {BosTokenId} is not a token id of the vocabulary (vocab_size {VocabSize})");
        foreach (int eos in EosTokenId ?? [])
            Require(eos >= 0 && eos < VocabSize, $"eos_token_id {eos} is not a token id of the vocabulary (vocab_size {VocabSize})");
        Require(PadTokenId is null || PadTokenId < VocabSize,
            $"pad_token_id {PadTokenId} is not a token id of the vocabulary (vocab_size {VocabSize})");
    }

    /// <summary>Throws a <see cref="SharpLMException"/> naming the fields responsible when building this model would need
    /// more memory than the machine has (before anything is allocated: libtorch would abort the process instead).</summary>
    public void CheckFitsInMemory(string source = "config")
    {
        const double bytesPerValue = sizeof(float); // models are built in fp32, then converted
        double d = HiddenSize, headDim = HeadDim;
        double embedding = (double)VocabSize * d * (TieWordEmbeddings ? 1 : 2) * bytesPerValue;
        double layers = (Parameters() - embedding / bytesPerValue - d) * bytesPerValue;
        // The cos and sin tables hold every position; building them takes two more tables of the same size.
        double rotary = 4.0 * MaxPositionEmbeddings * headDim * bytesPerValue;
        double needed = embedding + layers + rotary;
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (needed <= available) return;
        string culprit = new[]
        {
            (embedding, $"vocab_size {VocabSize} x hidden_size {HiddenSize}"),
            (layers, $"num_hidden_layers {NumHiddenLayers} (hidden_size {HiddenSize}, intermediate_size {IntermediateSize}, head_dim {HeadDim})"),
            (rotary, $"max_position_embeddings {MaxPositionEmbeddings} x head_dim {HeadDim} (rotary tables)"),
        }.MaxBy(part => part.Item1).Item2;
        throw new SharpLMException($"{source}: this model would need about {needed / (1L << 30):N1} GiB of memory to load, more than the " +
                                   $"{available / (double)(1L << 30):N1} GiB available; most of it for {culprit}");
    }

    /// <summary>Parameter count of the model this config describes.</summary>
    public long ParameterCount() => (long)Parameters();

    // In doubles (exact below 2^53) so that an absurd config gives an absurd count rather than an overflow.
    double Parameters()
    {
        double d = HiddenSize, kv = (double)NumKeyValueHeads * HeadDim, q = (double)NumAttentionHeads * HeadDim, ffn = IntermediateSize;
        double biases = (QkvBias ? q + 2 * kv : 0) + (AttentionBias ? d : 0) + (MlpBias ? 2 * ffn + d : 0) + (QkNorm ? 2.0 * HeadDim : 0);
        double perLayer = d * q + 2 * d * kv + q * d + 3 * d * ffn + 2 * d + biases;
        double embed = VocabSize * d;
        return embed + (TieWordEmbeddings ? 0 : embed) + NumHiddenLayers * perLayer + d;
    }

    /// <summary>Training FLOPs per token (forward + backward), PaLM's convention: 6 per weight that multiplies
    /// an activation (the embedding lookup does not; the LM head does) plus 12 * layers * heads * head_dim * seqLen
    /// for attention's score and value products.</summary>
    public double TrainingFlopsPerToken(int seqLen)
    {
        long matmulWeights = ParameterCount() - (TieWordEmbeddings ? 0 : (long)VocabSize * HiddenSize);
        return 6.0 * matmulWeights + 12.0 * NumHiddenLayers * NumAttentionHeads * HeadDim * seqLen;
    }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static LlamaConfig FromJson(string json, string source = "config.json") =>
        FromJson(System.Text.Encoding.UTF8.GetBytes(json), source);

    /// <summary>Reads config.json content (UTF-8); every problem is a <see cref="SharpLMException"/> naming
    /// <paramref name="source"/> and the field.</summary>
    public static LlamaConfig FromJson(ReadOnlyMemory<byte> json, string source)
    {
        var config = IO.JsonFile.Deserialize<LlamaConfig>(json, source, JsonOptions, out var present);
        // The architecture first: a GPT-2 config lacks Llama's fields, and "not supported" is the useful message.
        SupportedArchitectures.Check(config, source);
        var missing = RequiredFields.Where(f => !present.Contains(f)).ToList();
        if (missing.Count > 0)
            throw new SharpLMException($"{source}: missing required field{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)}");
        config.ApplyTransformersDefaults(present);
        config.Validate(source);
        return config;
    }

    /// <summary>Fields left out of a config.json mean what transformers' config class for the model_type defaults to.</summary>
    void ApplyTransformersDefaults(IReadOnlySet<string> present)
    {
        bool mistral = ModelType == "mistral", qwen = ModelType is "qwen2" or "qwen3";
        if (!present.Contains("num_key_value_heads")) NumKeyValueHeadsRaw = mistral ? 8 : null;
        NumKeyValueHeadsRaw ??= NumAttentionHeads; // written out explicitly, so the file means the same to every reader
        if (!present.Contains("rms_norm_eps")) RmsNormEps = 1e-6;
        if (!present.Contains("max_position_embeddings")) MaxPositionEmbeddings = mistral ? 4096 * 32 : qwen ? 32768 : 2048;
    }

    public static LlamaConfig Load(string path)
    {
        return FromJson(IO.JsonFile.ReadBytes(path, "config.json"), path);
    }

    public LlamaConfig Clone() => FromJson(ToJson());
}

/// <summary>Reads <c>eos_token_id</c> written either as one int or as a list (Llama 3 uses a list).</summary>
public sealed class IntOrIntArrayConverter : JsonConverter<int[]?>
{
    public override int[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        // Exceptions without a path of their own get the field's from the serializer, so messages name it.
        const string expected = "expected a token id or a list of token ids";
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType == JsonTokenType.Number) return [Id(ref reader)];
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException(expected);
        var ids = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            ids.Add(reader.TokenType == JsonTokenType.Number ? Id(ref reader) : throw new JsonException(expected));
        return [.. ids];
    }

    static int Id(ref Utf8JsonReader reader) =>
        reader.TryGetInt32(out int id) ? id : throw new JsonException("expected a token id (an int)");

    public override void Write(Utf8JsonWriter writer, int[]? value, JsonSerializerOptions options)
    {
        if (value is null) writer.WriteNullValue();
        else if (value.Length == 1) writer.WriteNumberValue(value[0]);
        else JsonSerializer.Serialize(writer, value);
    }
}
