using SharpLM.Cli;
using SharpLM.Runtime;

// Must run before anything touches libtorch (OpenMP reads it once at load).
NativeEnvironment.Configure();
return CommandRunner.Invoke(CliRoot.Create(), args);
