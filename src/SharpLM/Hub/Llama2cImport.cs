using SharpLM.Model;
using SharpLM.Tokenization;

namespace SharpLM.Hub;

/// <summary>Turns a llama2.c checkpoint (and optionally its tokenizer.bin) into a SharpLM model folder.</summary>
public static class Llama2cImport
{
    /// <summary>Reads <paramref name="checkpoint"/> and writes <paramref name="output"/> (config.json,
    /// model.safetensors, generation_config.json, and tokenizer.bin when <paramref name="tokenizer"/> is given).</summary>
    /// <param name="force">Write into an existing non-empty folder; model-folder files the import does not write
    /// (a shard index, another tokenizer) are removed so the folder describes only the imported model.</param>
    /// <returns>The imported model's config.</returns>
    /// <exception cref="SharpLMException">Bad input, mismatched tokenizer, or an existing folder without <paramref name="force"/>.</exception>
    public static LlamaConfig Run(string checkpoint, string? tokenizer, string output, bool force)
    {
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any() && !force)
            throw new SharpLMException($"{output} already exists and is not empty; set force to write into it");
        if (File.Exists(output)) throw new SharpLMException($"{output} is a file; the output must be a folder");

        var config = Llama2cCheckpoint.ReadConfig(checkpoint); // fails fast, before the tokenizer or weights are read
        var vocabulary = tokenizer is null ? null : Llama2cTokenizer.Load(tokenizer);
        if (vocabulary is not null && vocabulary.VocabSize != config.VocabSize)
            throw new SharpLMException($"{tokenizer} has {vocabulary.VocabSize} tokens but {checkpoint} has vocab_size {config.VocabSize}; " +
                                       "is it the tokenizer this model was trained with?");

        using var model = Llama2cCheckpoint.Load(checkpoint);
        Directory.CreateDirectory(output);
        foreach (var stale in new[] { ModelFolder.IndexFile, ModelFolder.TokenizerFile, Llama2cTokenizerFile.DefaultFileName })
            File.Delete(Path.Combine(output, stale));
        ModelFolder.Save(output, model, vocabulary);
        return model.Config;
    }
}
