using SharpLM;
using SharpLM.Cli;
using SharpLM.Runtime;

// Must run before anything touches libtorch (OpenMP reads it once at load).
NativeEnvironment.Configure();
try
{
    using var group = Distributed.Join();
    return CommandRunner.Invoke(CliRoot.Create(), args);
}
catch (SharpLMException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
