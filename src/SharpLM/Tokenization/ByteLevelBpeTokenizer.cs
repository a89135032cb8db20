using System.Buffers;
using System.Text;

namespace SharpLM.Tokenization;

/// <summary>
/// Byte-level BPE tokenizer (GPT-2 / Llama-3 style) that encodes exactly as Hugging Face
/// <c>tokenizers</c> does for the same tokenizer.json: split out added tokens, pre-tokenize with
/// the regex, turn each piece's bytes into <see cref="ByteLevelAlphabet"/> characters, then apply
/// merges lowest rank first (leftmost first on ties).
/// </summary>
/// <remarks>
/// Lossless for any .NET string: text is turned into bytes as <see cref="Wtf8"/>, so even lone
/// surrogates survive <c>Decode(Encode(s)) == s</c> (for tokenizers whose vocabulary has all 256
/// byte tokens, which SharpLM's always has). Encode is thread-safe; each thread keeps its own
/// bounded cache of piece → ids. Encode never adds bos/eos: callers add them explicitly.
/// </remarks>
public sealed class ByteLevelBpeTokenizer : ITokenizer
{
    // Per-thread word cache: cleared when full; long pieces (runs of spaces, base64...) are not kept.
    const int CacheCapacity = 50_000;
    const int MaxCachedPieceLength = 256;
    // Far above any real vocabulary; guards against a corrupt id allocating gigabytes.
    const int MaxId = 1 << 24;

    readonly Dictionary<string, int> vocab;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> vocabBySpan;
    readonly Dictionary<string, AddedToken> addedByContent;
    readonly (string Left, string Right)[] merges;
    readonly Dictionary<long, (int Rank, int Id)> mergeByPair;
    readonly int[] mergeIdByRank;
    readonly int[] byteIds = new int[256];
    readonly int? unkId;
    readonly string?[] tokens;
    readonly byte[]?[] tokenBytes;
    readonly bool[] isSpecial;
    readonly AddedTokenMatcher? plainAddedMatcher;
    readonly AddedTokenMatcher? allAddedMatcher;
    readonly ThreadLocal<Scratch> scratch = new(() => new Scratch());

    /// <summary>Builds a tokenizer from its parts (as in tokenizer.json).</summary>
    /// <param name="vocab">The BPE model's vocabulary: token (in byte-level characters) → id.</param>
    /// <param name="merges">Merges in rank order; each pair and its concatenation must be in <paramref name="vocab"/>.</param>
    /// <param name="addedTokens">Tokens matched whole in text (special tokens among them).</param>
    /// <param name="preTokenizer">How text is split before BPE; GPT-2's regex when null.</param>
    /// <param name="ignoreMerges">When true a piece found whole in the vocabulary is one token (Llama-3).</param>
    /// <param name="unkToken">Token used for bytes missing from the vocabulary; such bytes are dropped when null (as in Hugging Face).</param>
    /// <param name="normalizeNfc">Put text between added tokens in Unicode normalization form C first (Qwen2's NFC normalizer).</param>
    /// <exception cref="SharpLMException">The parts do not fit together.</exception>
    public ByteLevelBpeTokenizer(
        IReadOnlyDictionary<string, int> vocab,
        IEnumerable<(string Left, string Right)> merges,
        IEnumerable<AddedToken> addedTokens,
        PreTokenizer? preTokenizer = null,
        bool ignoreMerges = false,
        string? unkToken = null,
        bool normalizeNfc = false)
    {
        NormalizeNfc = normalizeNfc;
        this.vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        vocabBySpan = this.vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        this.merges = merges.ToArray();
        AddedTokens = addedTokens.ToList();
        PreTokenizer = preTokenizer ?? PreTokenizer.Gpt2;
        IgnoreMerges = ignoreMerges;
        UnkToken = unkToken;

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
        foreach (var (token, id) in this.vocab)
        {
            if (tokens[id] is { } other) throw new SharpLMException($"model.vocab: id {id} is given to both \"{other}\" and \"{token}\".");
            tokens[id] = token;
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

        if (unkToken is not null)
        {
            unkId = TokenToId(unkToken) ?? throw new SharpLMException($"model.unk_token: \"{unkToken}\" is not in the vocabulary.");
        }
        for (int b = 0; b < 256; b++)
            byteIds[b] = this.vocab.TryGetValue(ByteLevelAlphabet.ByteToChar((byte)b).ToString(), out int id) ? id : -1;

        mergeByPair = new Dictionary<long, (int, int)>(this.merges.Length);
        mergeIdByRank = new int[this.merges.Length];
        for (int rank = 0; rank < this.merges.Length; rank++)
        {
            var (left, right) = this.merges[rank];
            int leftId = VocabId(left, rank), rightId = VocabId(right, rank), mergedId = VocabId(left + right, rank);
            // A pair listed twice keeps its last rank, as in Hugging Face.
            mergeByPair[PairKey(leftId, rightId)] = (rank, mergedId);
            mergeIdByRank[rank] = mergedId;
        }

        tokenBytes = new byte[]?[size];
        for (int id = 0; id < size; id++)
            if (tokens[id] is { } token)
                tokenBytes[id] = addedByContent.ContainsKey(token) ? Encoding.UTF8.GetBytes(token) : TokenToBytes(token);

        plainAddedMatcher = AddedTokenMatcher.Create(AddedTokens.Where(t => !t.Special));
        allAddedMatcher = AddedTokenMatcher.Create(AddedTokens);
        Special = SpecialTokenNames.Resolve(TokenToId, unkToken, name => addedByContent.TryGetValue(name, out var added) ? added.Id : null);
    }

    /// <summary>Loads a Hugging Face tokenizer.json (see <see cref="TokenizerJson"/>).</summary>
    public static ByteLevelBpeTokenizer Load(string path) => TokenizerJson.Load(path);

    /// <inheritdoc/>
    public int VocabSize { get; }

    /// <inheritdoc/>
    /// <remarks>Found by conventional names; <see cref="TokenizerLoader"/> applies a model folder's
    /// tokenizer_config.json on top (e.g. Qwen's <c>"bos_token": null</c>).</remarks>
    public SpecialTokenIds Special { get; internal set; }

    /// <summary>The BPE model's vocabulary (byte-level token strings → ids).</summary>
    public IReadOnlyDictionary<string, int> Vocab => vocab;

    /// <summary>The merges in rank order.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => merges;

    /// <summary>Tokens matched whole in text, special ones included.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>How text is split into pieces before BPE.</summary>
    public PreTokenizer PreTokenizer { get; }

    /// <summary>Whether text is put in Unicode NFC before splitting (tokenizer.json's NFC normalizer). Then
    /// decode(encode(s)) gives the NFC form of s, as Hugging Face does.</summary>
    public bool NormalizeNfc { get; }

    /// <summary>Whether a piece found whole in the vocabulary is emitted as one token.</summary>
    public bool IgnoreMerges { get; }

    /// <summary>The model's unknown token, if it declares one.</summary>
    public string? UnkToken { get; }

    /// <inheritdoc/>
    public int? TokenToId(string token) =>
        addedByContent.TryGetValue(token, out var added) ? added.Id : vocab.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc/>
    public string? IdToToken(int id) => (uint)id < (uint)tokens.Length ? tokens[id] : null;

    /// <inheritdoc/>
    public ITokenizer WithAddedSpecialTokens(IReadOnlyList<string> tokens) =>
        new ByteLevelBpeTokenizer(vocab, merges, AddedTokens.Concat(AddedToken.AfterVocabulary(this, tokens)), PreTokenizer, IgnoreMerges,
            UnkToken, NormalizeNfc) { Special = Special };

    /// <inheritdoc/>
    public void Save(string path) => TokenizerJson.Save(this, path);

    /// <inheritdoc/>
    public int[] Encode(string text, bool allowSpecial = false)
    {
        var s = scratch.Value!;
        s.Ids.Clear();
        var matcher = allowSpecial ? allAddedMatcher : plainAddedMatcher;
        ReadOnlySpan<char> rest = text;
        while (matcher is not null && matcher.TryFind(rest, out int index, out var added))
        {
            EncodeOrdinary(rest[..index], s);
            s.Ids.Add(added!.Id);
            rest = rest[(index + added.Content.Length)..];
        }
        EncodeOrdinary(rest, s);
        return s.Ids.ToArray();
    }

    /// <inheritdoc/>
    /// <remarks>Ids unknown to the tokenizer are skipped, as in Hugging Face. Bytes that are not
    /// valid UTF-8 become U+FFFD, except WTF-8 lone surrogates (see <see cref="Wtf8"/>).</remarks>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        int length = 0;
        foreach (int id in ids)
            if ((uint)id < (uint)tokenBytes.Length && tokenBytes[id] is { } b) length += b.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int n = 0;
            foreach (int id in ids)
            {
                if ((uint)id >= (uint)tokenBytes.Length || tokenBytes[id] is not { } b || (skipSpecial && isSpecial[id])) continue;
                b.CopyTo(buffer, n);
                n += b.Length;
            }
            return Wtf8.Decode(buffer.AsSpan(0, n));
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    void EncodeOrdinary(ReadOnlySpan<char> text, Scratch s)
    {
        if (text.IsEmpty) return;
        if (NormalizeNfc && UnicodeNfc.MayChange(text)) text = UnicodeNfc.Normalize(text.ToString());
        s.Pieces.Clear();
        PreTokenizer.Split(text, s.Pieces);
        foreach (var (start, length) in s.Pieces)
        {
            var piece = text.Slice(start, length);
            if (!s.CacheBySpan.TryGetValue(piece, out int[]? ids))
            {
                ids = EncodePiece(piece, s);
                if (piece.Length <= MaxCachedPieceLength)
                {
                    if (s.Cache.Count >= CacheCapacity) s.Cache.Clear();
                    s.CacheBySpan[piece] = ids;
                }
            }
            s.Ids.AddRange(ids);
        }
    }

    int[] EncodePiece(ReadOnlySpan<char> piece, Scratch s)
    {
        var bytes = s.Bytes(Wtf8.MaxByteCount(piece.Length));
        int n = Wtf8.Encode(piece, bytes);
        if (IgnoreMerges)
        {
            var chars = s.Chars(n);
            for (int i = 0; i < n; i++) chars[i] = ByteLevelAlphabet.ByteToChar(bytes[i]);
            if (vocabBySpan.TryGetValue(chars.AsSpan(0, n), out int whole)) return [whole];
        }

        var (sym, prev, next) = s.Symbols(n);
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            int id = byteIds[bytes[i]];
            if (id < 0)
            {
                if (unkId is not int unk) continue;
                id = unk;
            }
            sym[count] = id;
            prev[count] = count - 1;
            next[count] = count + 1;
            count++;
        }
        if (count == 0) return [];
        next[count - 1] = -1;

        // Lowest rank first, leftmost first among equal ranks; stale entries are skipped when popped.
        var queue = s.Queue;
        queue.Clear();
        for (int i = 0; i + 1 < count; i++) Enqueue(queue, i, sym[i], sym[i + 1]);
        while (queue.TryDequeue(out int i, out long priority))
        {
            if (sym[i] < 0 || next[i] < 0) continue;
            int j = next[i];
            int mergedId = mergeIdByRank[(int)(priority >> 32)];
            // As Hugging Face does, the entry stands if the pair now there still merges into the same token.
            if (!mergeByPair.TryGetValue(PairKey(sym[i], sym[j]), out var m) || m.Id != mergedId) continue;
            sym[i] = mergedId;
            sym[j] = -1;
            next[i] = next[j];
            if (next[j] >= 0) prev[next[j]] = i;
            if (prev[i] >= 0) Enqueue(queue, prev[i], sym[prev[i]], sym[i]);
            if (next[i] >= 0) Enqueue(queue, i, sym[i], sym[next[i]]);
        }

        int outCount = 0;
        for (int i = 0; i >= 0; i = next[i]) outCount++;
        var result = new int[outCount];
        outCount = 0;
        for (int i = 0; i >= 0; i = next[i]) result[outCount++] = sym[i];
        return result;
    }

    void Enqueue(PriorityQueue<int, long> queue, int pos, int left, int right)
    {
        if (mergeByPair.TryGetValue(PairKey(left, right), out var m))
            queue.Enqueue(pos, ((long)m.Rank << 32) | (uint)pos);
    }

    int VocabId(string token, int rank) => vocab.TryGetValue(token, out int id) ? id
        : throw new SharpLMException($"model.merges[{rank}] (\"{merges[rank].Left}\" \"{merges[rank].Right}\"): " +
                                     $"token \"{token}\" is not in model.vocab.");

    static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    // Hugging Face's ByteLevel decoder: a token made only of alphabet characters stands for those bytes;
    // any other token stands for its own UTF-8.
    static byte[] TokenToBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
            if (!ByteLevelAlphabet.TryCharToByte(token[i], out bytes[i])) return Encoding.UTF8.GetBytes(token);
        return bytes;
    }

    /// <summary>Per-thread buffers and the piece → ids cache.</summary>
    sealed class Scratch
    {
        public readonly List<int> Ids = [];
        public readonly List<(int Start, int Length)> Pieces = [];
        public readonly PriorityQueue<int, long> Queue = new();
        public readonly Dictionary<string, int[]> Cache = new(StringComparer.Ordinal);
        public readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> CacheBySpan;
        byte[] bytes = new byte[256];
        char[] chars = new char[256];
        int[] sym = new int[256], prev = new int[256], next = new int[256];

        public Scratch() => CacheBySpan = Cache.GetAlternateLookup<ReadOnlySpan<char>>();

        public byte[] Bytes(int n) => bytes.Length >= n ? bytes : bytes = new byte[n];
        public char[] Chars(int n) => chars.Length >= n ? chars : chars = new char[n];

        public (int[] Sym, int[] Prev, int[] Next) Symbols(int n)
        {
            if (sym.Length < n) (sym, prev, next) = (new int[n], new int[n], new int[n]);
            return (sym, prev, next);
        }
    }
}
