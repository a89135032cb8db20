using System.CommandLine;

namespace SharpLM.Cli.Commands;

/// <summary>`sharplm tokenizer ...`: train and inspect tokenizers.</summary>
static class TokenizerCommand
{
    public static Command Create()
    {
        var cmd = new Command("tokenizer", "Train and inspect byte-level BPE tokenizers.");
        return cmd;
    }
}
