namespace SharpLM.Tokenization;

/// <summary>What the rest of SharpLM needs from a tokenizer.</summary>
public interface ITokenizer
{
    /// <summary>Number of ids, special tokens included (the model's vocab must be at least this).</summary>
    int VocabSize { get; }

    /// <summary>Ids of the special tokens this tokenizer knows (pad, bos, eos, unk); null when absent.</summary>
    SpecialTokenIds Special { get; }

    /// <summary>Encodes text to ids. Special-token strings inside the text are encoded as
    /// specials only when <paramref name="allowSpecial"/> is true (never for untrusted data).</summary>
    int[] Encode(string text, bool allowSpecial = false);

    /// <summary>Decodes ids to text; special tokens are dropped when <paramref name="skipSpecial"/>.</summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false);

    /// <summary>The id of a token string (e.g. "[EOT]"), or null.</summary>
    int? TokenToId(string token);

    /// <summary>The token string of an id, or null when the id is out of range.</summary>
    string? IdToToken(int id);

    /// <summary>Writes the tokenizer in its own file format (a Hugging Face tokenizer.json for byte-level BPE).</summary>
    void Save(string path);

    /// <summary>The file name the tokenizer is saved under inside a model folder.</summary>
    string FileName => "tokenizer.json";

    /// <summary>A copy with <paramref name="tokens"/> added as special tokens at the next ids (<see cref="VocabSize"/>,
    /// <see cref="VocabSize"/> + 1, ...), the special-token roles kept; null when this kind of tokenizer cannot take added
    /// tokens.</summary>
    /// <exception cref="SharpLMException">A token is already in the vocabulary.</exception>
    ITokenizer? WithAddedSpecialTokens(IReadOnlyList<string> tokens) => null;
}

/// <summary>Ids of the special tokens; null when the tokenizer has no such token.</summary>
public sealed record SpecialTokenIds(int? Pad, int? Bos, int? Eos, int? Unk);
