namespace SharpLM.Tokenization;

/// <summary>Opens a tokenizer from a <c>tokenizer.json</c> file or a folder holding one.</summary>
public static class TokenizerLoader
{
    public static ITokenizer Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        if (!File.Exists(file))
            throw new SharpLMException($"tokenizer not found: {file} (train one with `sharplm tokenizer train`)");
        return ByteLevelBpeTokenizer.Load(file);
    }
}
