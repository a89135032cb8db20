using SharpLM.Runtime;
NativeEnvironment.Configure();
Console.WriteLine("sharplm");
