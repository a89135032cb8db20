namespace SharpLM;

/// <summary>A problem the user can fix (bad input, wrong file, incompatible settings).
/// The message says what was wrong, where, and what was expected.</summary>
public class SharpLMException(string message, Exception? inner = null) : Exception(message, inner);
