namespace SharpLM.Tokenization;

/// <summary>
/// SentencePiece-style BPE tokenizer (Llama-2, Mistral-7B, TinyLlama tokenizer.json) that encodes
/// exactly as Hugging Face <c>tokenizers</c> does for the same file: split out added tokens;
/// normalize each stretch between them (e.g. prepend "▁", spaces to "▁"); optionally pre-tokenize
/// with Metaspace; look every character up in the vocabulary (missing ones become &lt;0xXX&gt; byte
/// tokens with byte fallback, else the unknown token); then apply merges lowest rank first.
/// Decoding runs the file's decoder steps (e.g. "▁" to space, byte tokens to UTF-8, drop the
/// leading space).
/// </summary>
/// <remarks>
/// <para>Written by hand rather than taken from a library: Microsoft.ML.Tokenizers 2.0.1's BPE has no
/// byte fallback, and its SentencePiece tokenizer reads only SentencePiece .model files and merges by
/// piece score, not by a tokenizer.json's merges. Tokenizers.DotNet 1.4.1 (Hugging Face's Rust code
/// through P/Invoke) gives the same ids as this class on 12 MB of English text, but encoded Mistral's
/// tokenizer several times more slowly than this class on the same machine, per document and far more so as
/// one long string, and it ships a native library per platform.</para>
/// <para>Without a pre-tokenizer Hugging Face merges each whole stretch of text as one word. When no
/// merge joins a token to a following one that starts with "▁" (true of SentencePiece vocabularies),
/// cutting the word before each "▁" that follows another character cannot change the result, so the
/// pieces are merged separately and cached per thread; otherwise the whole word is merged at once.</para>
/// <para>Text is read per Unicode character; a lone UTF-16 surrogate, which no vocabulary holds, falls
/// back to its WTF-8 bytes, which decode back to it (see <see cref="Wtf8"/>). Decode(Encode(s)) gives s
/// back except where the file's own pipeline loses information, as in Hugging Face: "▁" in the text
/// decodes as a space, and legacy files prepend "▁" after every added token. Encode never adds
/// bos/eos: callers add them. Encode and Decode are thread-safe.</para>
/// </remarks>
public sealed class SentencePieceBpeTokenizer : ITokenizer
{
    const char WordStart = '\u2581';
    const int CacheCapacity = 50_000;
    const int MaxCachedPieceLength = 256;
    // Far above any real vocabulary; guards against a corrupt id allocating gigabytes.
    const int MaxId = 1 << 24;

    readonly Dictionary<string, int> vocab;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> vocabBySpan;
    readonly (string Left, string Right)[] merges;
    readonly BpeMergeTable mergeTable;
    readonly Dictionary<string, AddedToken> addedByContent;
    readonly string?[] tokens;
    readonly string?[] decodedTokens;
    readonly bool[] isSpecial;
    readonly int[] charIds = new int[char.MaxValue + 1];
    readonly int[] byteIds = new int[256];
    readonly int? unkId;
    readonly bool cutBeforeWordStart;
    readonly AddedTokenMatcher? plainRawMatcher, allRawMatcher, plainNormalizedMatcher, allNormalizedMatcher;
    readonly ThreadLocal<Scratch> scratch = new(() => new Scratch());

    /// <summary>Builds a tokenizer from its parts (as in tokenizer.json).</summary>
    /// <param name="vocab">The BPE model's vocabulary: token (with "▁" for spaces, &lt;0xXX&gt; for bytes) → id.</param>
    /// <param name="merges">Merges in rank order; each pair and its concatenation must be in <paramref name="vocab"/>.</param>
    /// <param name="addedTokens">Tokens matched whole in text (special tokens among them).</param>
    /// <param name="options">Unknown token, byte fallback, normalizer, pre-tokenizer and decoder; Llama-2's when null.</param>
    /// <exception cref="SharpLMException">The parts do not fit together.</exception>
    public SentencePieceBpeTokenizer(
        IReadOnlyDictionary<string, int> vocab,
        IEnumerable<(string Left, string Right)> merges,
        IEnumerable<AddedToken> addedTokens,
        SentencePieceBpeOptions? options = null)
    {
        Options = options ?? new SentencePieceBpeOptions();
        this.vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        vocabBySpan = this.vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        this.merges = merges.ToArray();
        AddedTokens = addedTokens.ToList();

        int size = 0;
        foreach (var (token, id) in this.vocab)
        {
            if (id is < 0 or >= MaxId) throw new SharpLMException($"model.vocab: token \"{token}\" has id {id}, outside 0..{MaxId - 1}.");
            size = Math.Max(size, id + 1);
        }
        foreach (var added in AddedTokens)
        {
            if (added.Id is < 0 or >= MaxId)
                throw new SharpLMException($"added_tokens: \"{added.Content}\" has id {added.Id}, outside 0..{MaxId - 1}.");
            if (added.Content.Length == 0) throw new SharpLMException($"added_tokens: id {added.Id} has empty content.");
            size = Math.Max(size, added.Id + 1);
        }
        VocabSize = size;

        tokens = new string?[size];
        Array.Fill(charIds, -1);
        foreach (var (token, id) in this.vocab)
        {
            if (tokens[id] is { } other) throw new SharpLMException($"model.vocab: id {id} is given to both \"{other}\" and \"{token}\".");
            tokens[id] = token;
            if (token.Length == 1) charIds[token[0]] = id;
        }
        addedByContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        isSpecial = new bool[size];
        for (int i = 0; i < AddedTokens.Count; i++)
        {
            var added = AddedTokens[i];
            if (tokens[added.Id] is { } existing && existing != added.Content)
                throw new SharpLMException($"added_tokens[{i}]: id {added.Id} is \"{added.Content}\" but that id is already \"{existing}\".");
            if (this.vocab.TryGetValue(added.Content, out int vocabId) && vocabId != added.Id)
                throw new SharpLMException($"added_tokens[{i}]: \"{added.Content}\" has id {added.Id} but model.vocab gives it id {vocabId}.");
            if (!addedByContent.TryAdd(added.Content, added))
                throw new SharpLMException($"added_tokens[{i}]: \"{added.Content}\" is listed twice.");
            tokens[added.Id] = added.Content;
            isSpecial[added.Id] = added.Special;
        }

        // Hugging Face looks the unknown token up in the model's vocabulary only.
        if (Options.UnkToken is { } unk)
            unkId = this.vocab.TryGetValue(unk, out int id) ? id : throw new SharpLMException($"model.unk_token: \"{unk}\" is not in model.vocab.");
        for (int b = 0; b < 256; b++)
            byteIds[b] = this.vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        mergeTable = new BpeMergeTable(this.merges, this.vocab);
        // A merge can only join across "x|▁" (x not ▁) if its right part starts with ▁ and its left part ends
        // in x's token, which ends in x, '>' (a byte token) or the unknown token's last character.
        cutBeforeWordStart = this.vocab.ContainsKey(WordStart.ToString()) && Options.UnkToken?.EndsWith(WordStart) != true
            && !this.merges.Any(m => m.Right.StartsWith(WordStart) && !m.Left.EndsWith(WordStart));

        // Added tokens marked "normalized" are looked for in the normalized text, in their normalized form.
        AddedToken Normalized(AddedToken t) => t with { Content = Normalize(t.Content) };
        // As in Hugging Face, the decoder sees such a token in its normalized form, which it then undoes.
        decodedTokens = (string?[])tokens.Clone();
        foreach (var t in AddedTokens.Where(t => t.Normalized)) decodedTokens[t.Id] = Normalize(t.Content);
        plainRawMatcher = AddedTokenMatcher.Create(AddedTokens.Where(t => !t.Special && !t.Normalized));
        allRawMatcher = AddedTokenMatcher.Create(AddedTokens.Where(t => !t.Normalized));
        plainNormalizedMatcher = AddedTokenMatcher.Create(
            AddedTokens.Where(t => !t.Special && t.Normalized).Select(Normalized).Where(t => t.Content.Length > 0));
        allNormalizedMatcher = AddedTokenMatcher.Create(AddedTokens.Where(t => t.Normalized).Select(Normalized).Where(t => t.Content.Length > 0));
        Special = SpecialTokenNames.Resolve(TokenToId, Options.UnkToken, name => AddedTokens.FirstOrDefault(t => t.Content == name)?.Id);
    }

    /// <summary>Loads a SentencePiece-style tokenizer.json (see <see cref="SentencePieceBpeJson"/>).</summary>
    public static SentencePieceBpeTokenizer Load(string path) => SentencePieceBpeJson.Load(path);

    /// <inheritdoc/>
    public int VocabSize { get; }

    /// <inheritdoc/>
    /// <remarks>Found by conventional names; <see cref="TokenizerLoader"/> applies a model folder's
    /// tokenizer_config.json on top (e.g. Qwen's <c>"bos_token": null</c>).</remarks>
    public SpecialTokenIds Special { get; internal set; }

    /// <summary>The BPE model's vocabulary (token strings → ids).</summary>
    public IReadOnlyDictionary<string, int> Vocab => vocab;

    /// <summary>The merges in rank order.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => merges;

    /// <summary>Tokens matched whole in text, special ones included.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>Unknown token, byte fallback, normalizer, pre-tokenizer and decoder.</summary>
    public SentencePieceBpeOptions Options { get; }

    /// <inheritdoc/>
    public int? TokenToId(string token) =>
        addedByContent.TryGetValue(token, out var added) ? added.Id : vocab.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc/>
    public string? IdToToken(int id) => (uint)id < (uint)tokens.Length ? tokens[id] : null;

    /// <inheritdoc/>
    public ITokenizer WithAddedSpecialTokens(IReadOnlyList<string> tokens) =>
        new SentencePieceBpeTokenizer(vocab, merges, AddedTokens.Concat(AddedToken.AfterVocabulary(this, tokens)), Options) { Special = Special };

    /// <inheritdoc/>
    public void Save(string path) => SentencePieceBpeJson.Save(this, path);

    /// <inheritdoc/>
    public int[] Encode(string text, bool allowSpecial = false)
    {
        var s = scratch.Value!;
        s.Ids.Clear();
        var matcher = allowSpecial ? allRawMatcher : plainRawMatcher;
        ReadOnlySpan<char> rest = text;
        int offset = 0;
        while (matcher is not null && matcher.TryFind(rest, out int index, out var added))
        {
            EncodeStretch(rest[..index], offset == 0, allowSpecial, s);
            s.Ids.Add(added!.Id);
            offset += index + added.Content.Length;
            rest = rest[(index + added.Content.Length)..];
        }
        EncodeStretch(rest, offset == 0, allowSpecial, s);
        return s.Ids.ToArray();
    }

    /// <inheritdoc/>
    /// <remarks>Ids unknown to the tokenizer are skipped, as in Hugging Face; added tokens go through
    /// the decoder like any other token (so Llama-2's gives "&lt;s&gt; Hello" for [&lt;s&gt;, ▁Hello]),
    /// those marked "normalized" in their normalized form. One deliberate difference: Hugging Face 0.23
    /// does not skip special tokens marked "normalized" when the normalizer changes them; SharpLM does.</remarks>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var pieces = new List<string>(ids.Length);
        foreach (int id in ids)
            if ((uint)id < (uint)decodedTokens.Length && decodedTokens[id] is { } token && !(skipSpecial && isSpecial[id]))
                pieces.Add(token);
        if (Options.Decoder is null) return string.Join(' ', pieces);
        foreach (var step in Options.Decoder) step.Apply(pieces);
        return string.Concat(pieces);
    }

    string Normalize(string text)
    {
        foreach (var step in Options.Normalizer) text = step.Apply(text);
        return text;
    }

    // One stretch of text between added tokens; atStart when it begins the whole text.
    void EncodeStretch(ReadOnlySpan<char> stretch, bool atStart, bool allowSpecial, Scratch s)
    {
        if (stretch.IsEmpty) return;
        string normalized = Normalize(stretch.ToString());
        var matcher = allowSpecial ? allNormalizedMatcher : plainNormalizedMatcher;
        ReadOnlySpan<char> rest = normalized;
        bool first = atStart;
        while (matcher is not null && matcher.TryFind(rest, out int index, out var added))
        {
            PreTokenize(rest[..index], first, s);
            s.Ids.Add(added!.Id);
            first = false;
            rest = rest[(index + added.Content.Length)..];
        }
        PreTokenize(rest, first, s);
    }

    void PreTokenize(ReadOnlySpan<char> text, bool atStart, Scratch s)
    {
        if (text.IsEmpty) return;
        if (Options.PreTokenizer is not { } metaspace)
        {
            EncodeWord(text, s);
            return;
        }
        s.Words.Clear();
        string rewritten = metaspace.PreTokenize(text.ToString(), atStart, s.Words);
        foreach (var (start, length) in s.Words) EncodeWord(rewritten.AsSpan(start, length), s);
    }

    void EncodeWord(ReadOnlySpan<char> word, Scratch s)
    {
        if (!cutBeforeWordStart)
        {
            EncodePiece(word, s);
            return;
        }
        int start = 0;
        for (int i = 1; i < word.Length; i++)
        {
            if (word[i] != WordStart || word[i - 1] == WordStart) continue;
            EncodePiece(word[start..i], s);
            start = i;
        }
        EncodePiece(word[start..], s);
    }

    void EncodePiece(ReadOnlySpan<char> piece, Scratch s)
    {
        if (piece.Length > MaxCachedPieceLength)
        {
            s.Ids.AddRange(Merge(piece, s));
            return;
        }
        if (!s.CacheBySpan.TryGetValue(piece, out int[]? ids))
        {
            ids = Merge(piece, s);
            if (s.Cache.Count >= CacheCapacity) s.Cache.Clear();
            s.CacheBySpan[piece] = ids;
        }
        s.Ids.AddRange(ids);
    }

    // Hugging Face's BPE on one word: characters to ids (byte fallback, then unknown token, else dropped), then merges.
    int[] Merge(ReadOnlySpan<char> word, Scratch s)
    {
        var (symbols, prev, next) = s.Symbols(word.Length * 3);
        Span<byte> bytes = stackalloc byte[6];
        int count = 0;
        int pendingUnk = 0;
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var character = word.Slice(i, width);
            i += width;
            int id = width == 1 ? charIds[character[0]] : vocabBySpan.TryGetValue(character, out int pairId) ? pairId : -1;
            if (id >= 0)
            {
                if (pendingUnk > 0) symbols[count++] = unkId!.Value;
                pendingUnk = 0;
                symbols[count++] = id;
                continue;
            }
            if (Options.ByteFallback)
            {
                int n = Wtf8.Encode(character, bytes);
                bool all = true;
                for (int b = 0; b < n; b++) all &= byteIds[bytes[b]] >= 0;
                if (all)
                {
                    // As in Hugging Face, a pending unknown token waits until the next known character.
                    for (int b = 0; b < n; b++) symbols[count++] = byteIds[bytes[b]];
                    continue;
                }
            }
            if (unkId is not int unk) continue;
            if (pendingUnk > 0 && !Options.FuseUnk) symbols[count++] = unk;
            pendingUnk = 1;
        }
        if (pendingUnk > 0) symbols[count++] = unkId!.Value;
        count = mergeTable.Merge(symbols, count, prev, next, s.Queue);
        return symbols.AsSpan(0, count).ToArray();
    }

    sealed class Scratch
    {
        int[] symbols = new int[64], prev = new int[64], next = new int[64];

        public Scratch() => CacheBySpan = Cache.GetAlternateLookup<ReadOnlySpan<char>>();

        public readonly List<int> Ids = [];
        public readonly List<(int Start, int Length)> Words = [];
        public readonly PriorityQueue<int, long> Queue = new();
        public readonly Dictionary<string, int[]> Cache = new(StringComparer.Ordinal);
        public readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> CacheBySpan;

        public (int[] Symbols, int[] Prev, int[] Next) Symbols(int n)
        {
            if (symbols.Length < n)
            {
                int size = Math.Max(n, symbols.Length * 2);
                (symbols, prev, next) = (new int[size], new int[size], new int[size]);
            }
            return (symbols, prev, next);
        }
    }
}
