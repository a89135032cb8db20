namespace SharpLM.Bench;

/// <summary>Minimal `--name value` parsing for benchmark programs.</summary>
sealed class BenchArgs(string[] args)
{
    public string Get(string name, string fallback)
    {
        var i = Array.IndexOf(args, "--" + name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    public int Int(string name, int fallback) => int.Parse(Get(name, fallback.ToString()));

    public bool Has(string name) => Array.IndexOf(args, "--" + name) >= 0;
}
