namespace SharpLM.Data;

/// <summary>How the fields of an instruction-data record are read.</summary>
public enum InstructionFormat
{
    /// <summary>Decided per file from the fields of its first valid record, in this order: <c>messages</c> →
    /// <see cref="Messages"/>, <c>instruction</c> → <see cref="Alpaca"/>, <c>prompt</c> or <c>question</c> →
    /// <see cref="PromptCompletion"/>, <c>text</c> → <see cref="Text"/>.</summary>
    Auto,

    /// <summary><c>{"text": ...}</c>: domain text for continued pretraining, every token trained.</summary>
    Text,

    /// <summary><c>instruction</c>, optional <c>input</c>, <c>output</c>, optional <c>system</c>: the user turn is
    /// the instruction, followed by a blank line and the input when the input is not blank.</summary>
    Alpaca,

    /// <summary><c>prompt</c>/<c>completion</c> (or <c>question</c>/<c>answer</c>), optional <c>system</c>:
    /// one user turn and one assistant turn.</summary>
    PromptCompletion,

    /// <summary><c>messages</c>: an array of <c>{"role", "content"}</c> objects (JSONL and nested Parquet lists),
    /// see <see cref="Chat.Conversation"/> for the rules.</summary>
    Messages,
}
