using SharpLM.Runtime;
NativeEnvironment.Configure();
