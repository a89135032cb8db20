using SharpLM.Tokenization;

namespace SharpLM.Chat;

/// <summary>Where chat templates come from: SharpLM's built-in ones by name, a template file, a model folder's own, or
/// the one that suits a tokenizer. <see cref="Resolve"/> is the choice every command makes.</summary>
public static class ChatTemplates
{
    /// <summary>SharpLM's own template (the Alpaca layout): answers end with the tokenizer's end token.</summary>
    public static PartsChatTemplate Default { get; } = new(
        "default", system: "{content}\n\n", user: "### Instruction:\n{content}\n\n", assistantStart: "### Response:\n",
        assistantEnd: "", endWithEos: true,
        // A model that has not learned the end token yet tends to go on with a made-up next turn.
        stopStrings: ["### Instruction:"]);

    /// <summary>ChatML, as used by Qwen, SmolLM and many others.</summary>
    public static PartsChatTemplate ChatMl { get; } = new(
        "chatml", system: "<|im_start|>system\n{content}<|im_end|>\n", user: "<|im_start|>user\n{content}<|im_end|>\n",
        assistantStart: "<|im_start|>assistant\n", assistantEnd: "<|im_end|>", endWithEos: false, afterAssistant: "\n",
        stopStrings: ["<|im_end|>"]);

    /// <summary>Names <see cref="Get"/> knows without a file.</summary>
    public static IReadOnlyList<string> BuiltInNames { get; } = ["default", "chatml"];

    /// <summary>A built-in template by name (<see cref="BuiltInNames"/>, case-insensitive), a template JSON file,
    /// or the template of a model folder (see <see cref="LoadFromModel"/>).</summary>
    public static ChatTemplate Get(string nameOrPath)
    {
        if (nameOrPath.Equals(Default.Name, StringComparison.OrdinalIgnoreCase)) return Default;
        if (nameOrPath.Equals(ChatMl.Name, StringComparison.OrdinalIgnoreCase)) return ChatMl;
        if (File.Exists(nameOrPath)) return ChatTemplateFile.Read(nameOrPath);
        if (Directory.Exists(nameOrPath))
            return LoadFromModel(nameOrPath) ?? throw new SharpLMException(
                $"{nameOrPath} has no chat template (neither {PartsChatTemplate.FileName} nor a chat_template in {TokenizerConfigFile.FileName})");
        throw new SharpLMException(
            $"unknown chat template \"{nameOrPath}\": expected {string.Join(" or ", BuiltInNames)}, a template .json file, " +
            $"or a model folder with {PartsChatTemplate.FileName}");
    }

    /// <summary>The template to use with a model: <paramref name="nameOrPath"/> when given (see <see cref="Get"/>), else
    /// the one <paramref name="modelFolder"/> holds (see <see cref="LoadFromModel"/>), else <see cref="DefaultFor"/> the
    /// tokenizer (<see cref="Default"/> without one).</summary>
    public static ChatTemplate Resolve(string? nameOrPath, string? modelFolder, ITokenizer? tokenizer = null) =>
        nameOrPath is not null ? Get(nameOrPath)
        : modelFolder is not null && Directory.Exists(modelFolder) && LoadFromModel(modelFolder) is { } saved ? saved
        : tokenizer is null ? Default : DefaultFor(tokenizer);

    /// <summary>The template for a model without one: <see cref="ChatMl"/> when the tokenizer has its markers as
    /// special tokens (SharpLM's own tokenizers do), since llama.cpp, Ollama and most tools recognise it; else
    /// <see cref="Default"/>, whose plain-text headers need no special tokens.</summary>
    public static PartsChatTemplate DefaultFor(ITokenizer tokenizer) =>
        tokenizer.TokenToId("<|im_start|>") is { } start && tokenizer.TokenToId("<|im_end|>") is { } end
        && tokenizer.Encode("<|im_start|><|im_end|>", allowSpecial: true) is [var a, var b] && a == start && b == end
            ? ChatMl
            : Default;

    /// <summary>The template saved in <paramref name="modelFolder"/> by SharpLM (<see cref="PartsChatTemplate.FileName"/>),
    /// else the model's own Jinja template (chat_template.jinja, chat_template.json, or the <c>chat_template</c> of its
    /// tokenizer_config.json), else null.</summary>
    public static ChatTemplate? LoadFromModel(string modelFolder)
    {
        string path = Path.Combine(modelFolder, PartsChatTemplate.FileName);
        if (File.Exists(path)) return ChatTemplateFile.Read(path);
        return JinjaChatTemplate.FromModelFolder(modelFolder);
    }
}
