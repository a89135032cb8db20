using System.Runtime.CompilerServices;
using SharpLM.Runtime;

namespace SharpLM.Tests;

static class TestSetup
{
    [ModuleInitializer]
    internal static void Init() => NativeEnvironment.Configure();
}
