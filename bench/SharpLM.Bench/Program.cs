using SharpLM.Bench;
using SharpLM.Runtime;

NativeEnvironment.Configure();

// Each benchmark is one file with a static Run(string[] args); pick it by name.
var benches = new Dictionary<string, Func<string[], int>>
{
    ["train"] = TrainBench.Run,
    ["tokenizer"] = TokenizerBench.Run,
    ["gguf"] = GgufBench.Run,
    ["gguf-one"] = GgufRun.Run, // internal: one measurement of `gguf`, in a child process
    ["encode"] = EncodeBench.Run,
    ["serve"] = ServeBench.Run,
    ["dist"] = DistBench.Run,
    ["profile"] = DecodeProfile.Run,
    ["train-profile"] = TrainProfile.Run,
};
if (args.Length == 0 || !benches.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: bench <{string.Join("|", benches.Keys.Where(name => name != "gguf-one"))}> [options]");
    return 2;
}
return run(args[1..]);
