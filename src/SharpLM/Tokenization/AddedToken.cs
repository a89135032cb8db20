namespace SharpLM.Tokenization;

/// <summary>A token matched in text as a whole before pre-tokenization (Hugging Face's
/// "added_tokens"). Special ones ([PAD], [BOT], ...) are matched only when the caller allows it;
/// other added tokens are always matched, as in Hugging Face.</summary>
public sealed record AddedToken(int Id, string Content, bool Special = true);
