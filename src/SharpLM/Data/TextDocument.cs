namespace SharpLM.Data;

/// <summary>One training document and where it came from.</summary>
/// <param name="Text">The text exactly as stored (line endings kept; a UTF-8 BOM removed).</param>
/// <param name="Source">Where it was read, for messages: <c>path</c>, <c>path:line</c> or <c>path:row N</c>.</param>
public sealed record TextDocument(string Text, string Source);
