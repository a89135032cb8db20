namespace SharpLM.Chat;

/// <summary>A conversation rendered to token ids by a <see cref="ChatTemplate"/>, with the assistant's answers marked.</summary>
/// <param name="Ids">The token ids, begin token first when the template and the tokenizer have one.</param>
/// <param name="InAnswer">One flag per token: true for the tokens of an assistant answer and what ends it (the
/// template's end of answer, e.g. ChatML's <c>&lt;|im_end|&gt;</c>, and the end token where the template adds it),
/// which is what a model learns to produce; false for the header before an answer, what follows its end, system and
/// user turns and the begin token.</param>
public sealed record RenderedConversation(int[] Ids, bool[] InAnswer);
