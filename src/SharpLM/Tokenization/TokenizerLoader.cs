namespace SharpLM.Tokenization;

/// <summary>Opens a tokenizer from a file or a model folder: a Hugging Face <c>tokenizer.json</c>, or else a
/// llama2.c <c>tokenizer.bin</c> (what <c>sharplm import llama2c</c> writes).</summary>
public static class TokenizerLoader
{
    public static ITokenizer Load(string path)
    {
        if (Directory.Exists(path))
        {
            string json = Path.Combine(path, "tokenizer.json"), bin = Path.Combine(path, Llama2cTokenizerFile.DefaultFileName);
            if (!File.Exists(json) && File.Exists(bin)) return Llama2cTokenizer.Load(bin);
            path = json;
        }
        if (!File.Exists(path))
            throw new SharpLMException($"tokenizer not found: {path} (train one with `sharplm tokenizer train`)");
        return path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) ? Llama2cTokenizer.Load(path) : ByteLevelBpeTokenizer.Load(path);
    }
}
