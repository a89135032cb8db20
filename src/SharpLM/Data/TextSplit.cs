namespace SharpLM.Data;

/// <summary>How a plain-text file (<c>.txt</c>, <c>.md</c>) is cut into documents.</summary>
public enum TextSplit
{
    /// <summary>The whole file is one document.</summary>
    File,

    /// <summary>Each non-blank line is a document (its line ending removed).</summary>
    Line,

    /// <summary>Each run of non-blank lines is a document; blank or whitespace-only lines separate them.
    /// Line endings inside a paragraph are kept, the one after its last line is removed.</summary>
    Paragraph,
}
